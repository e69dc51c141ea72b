// The ingest baseline (SPEC section 9): a bare Fastify route doing one INSERT into the same
// incidents table through a pool of the same size as Tocsin's, with no auth, validation,
// timeline, rate limit or idempotency. What Tocsin adds on top is what the ratio measures.
import Fastify from 'fastify';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 });
const app = Fastify({ logger: false });
app.post('/bare', async (request, reply) => {
  const body = request.body as { title: string; severity: string; description?: string };
  const { rows } = await pool.query(
    'insert into incidents (title, severity, description, created_by) values ($1, $2, $3, $4) returning id, created_at',
    [body.title, body.severity, body.description ?? null, 'bench'],
  );
  return reply.code(201).send(rows[0]);
});
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
process.stdout.write('ready\n');
process.on('SIGTERM', async () => {
  await app.close();
  await pool.end();
  process.exit(0);
});
