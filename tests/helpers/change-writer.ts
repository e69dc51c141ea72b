// A writer process for tests/change-feed.test.ts: concurrent transactions that append changes,
// some rolled back, with a pause between the append and the commit so that commits interleave.
// Prints the ids it committed as JSON on its last line.
import { setTimeout as sleep } from 'node:timers/promises';
import { appendChanges } from '../../src/adapters/postgres/change-store.ts';
import { makeChangeNotifier } from '../../src/adapters/postgres/change-notifier.ts';
import { makeDatabase, makePool } from '../../src/adapters/postgres/database.ts';

const [url, tag, loopsArg, perLoopArg, notifyArg] = process.argv.slice(2);
const db = makeDatabase(makePool(url!, 12));
const notifier = makeChangeNotifier(db, { debug: () => {} });
const committed: number[] = [];

async function loop(loop: number) {
  for (let n = 0; n < Number(perLoopArg); n++) {
    const count = 1 + ((loop + n) % 3);
    const rollBack = Math.random() < 0.1;
    try {
      const newest = await db.transaction().execute(async (trx) => {
        await trx.selectNoFrom((eb) => eb.val(1).as('x')).execute();
        const ids = await appendChanges(trx, Array.from({ length: count }, (_, i) => ({ type: 'test.change', data: { tag, loop, n, i } })));
        await sleep(Math.random() * 3);
        if (rollBack) throw new Error('roll back');
        committed.push(...ids);
        return ids.at(-1)!;
      });
      if (notifyArg === 'notify') notifier.committed(newest);
    } catch (error) {
      if ((error as Error).message !== 'roll back') throw error;
    }
  }
}

await Promise.all(Array.from({ length: Number(loopsArg) }, (_, i) => loop(i)));
await notifier.flush();
await db.destroy();
process.stdout.write(`${JSON.stringify(committed)}\n`);
