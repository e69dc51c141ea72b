import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { appendChanges, type NewChange } from '../../src/adapters/postgres/change-store.ts';
import { makeChangeNotifier } from '../../src/adapters/postgres/change-notifier.ts';
import type { Database } from '../../src/adapters/postgres/database.ts';

// Drives the change feed for the stream tests (issue 12) the way the use cases will: changes
// appended in a transaction, then a NOTIFY after the commit. Until the API itself appends events
// (issue 11), this is the writer; the streams cannot tell the difference.

const writer = fileURLToPath(new URL('./change-writer.ts', import.meta.url));

export function makeFeedWriter(db: Database) {
  const notifier = makeChangeNotifier(db, { debug: () => {} });
  return {
    /** Appends changes in one transaction and wakes the readers; returns their ids. */
    async append(...changes: NewChange[]): Promise<number[]> {
      const ids = await db.transaction().execute((trx) => appendChanges(trx, changes));
      notifier.committed(ids.at(-1)!);
      await notifier.flush();
      return ids;
    },
    /** Appends in a transaction that rolls back: its ids are a gap in the feed. */
    async rollBack(...changes: NewChange[]): Promise<void> {
      await db
        .transaction()
        .execute(async (trx) => {
          await appendChanges(trx, changes);
          throw new Error('roll back');
        })
        .catch(() => {});
    },
  };
}

/**
 * tests/helpers/change-writer.ts as a child process: `loops` concurrent writers of `perLoop`
 * transactions each, some rolled back. Resolves with the ids it committed.
 */
export function runWriterProcess(url: string, tag: string, loops: number, perLoop: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, url, tag, String(loops), String(perLoop), 'notify'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`writer ${tag} exited ${code}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1)!) as number[]);
    });
  });
}

/** A counter of a Prometheus text page, summed over the label sets that match. */
export async function metricValue(base: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) total += Number(line.split(' ').at(-1));
  }
  return total;
}
