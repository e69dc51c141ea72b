import type { FastifyRequest } from 'fastify';
import { DomainError } from '../../domain/errors.ts';

// ETags are the resource's version counter, bumped by every change (SPEC section 2).

export const etagOf = (version: number): string => `"${version}"`;

function listedTags(header: string | undefined): string[] {
  if (!header) return [];
  return header.split(',').map((tag) => tag.trim().replace(/^W\//, '')).filter(Boolean);
}

/** If-None-Match: true when the client's copy is current, so a 304 is due. */
export function isNotModified(request: FastifyRequest, version: number): boolean {
  const tags = listedTags(request.headers['if-none-match']);
  return tags.includes('*') || tags.includes(etagOf(version));
}

/**
 * If-Match: the version the client expects, undefined when it sent none (or `*`). A tag that is
 * not one of ours can never match, so it is refused with 412 at once.
 */
export function expectedVersion(request: FastifyRequest): number | undefined {
  const tags = listedTags(request.headers['if-match']);
  if (tags.length === 0 || tags.includes('*')) return undefined;
  for (const tag of tags) {
    const match = /^"(\d{1,9})"$/.exec(tag);
    if (match) return Number(match[1]);
  }
  throw new DomainError('PRECONDITION_FAILED', 'If-Match does not name a version of this resource');
}
