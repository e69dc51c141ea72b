import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

// SPEC section 10: passwords are hashed with scrypt from node:crypto: nothing to install and no
// native build step (argon2id would need a native or WebAssembly package), and scrypt is
// memory-hard as argon2id is. Each hash keeps its own salt and parameters beside it
// ("scrypt$N$r$p$salt$hash"), so the cost can be raised later without breaking stored hashes.

/**
 * N = 2^14, r = 8, p = 1 (Django's scrypt hasher's): 16 MiB and a few tens of milliseconds per
 * hash on an idle core. Kept beside each hash, so raising them later leaves old hashes valid.
 */
const PARAMS = { N: 2 ** 14, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, PARAMS);
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/**
 * A stored hash of a password nobody knows, with the current parameters: checking a password
 * against it costs what checking a real one costs, so an unknown email takes as long as a wrong
 * password (SPEC section 10).
 */
export const DUMMY_HASH = `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${randomBytes(16).toString('base64url')}$${randomBytes(KEY_LENGTH).toString('base64url')}`;

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await derive(password, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}
