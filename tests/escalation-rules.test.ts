import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextStep, pagePriority, policyProblems, repeatPause, type Step } from '../src/domain/escalation.ts';
import { localeChain } from '../src/domain/template.ts';

// SPEC section 5, the pure rules: the order steps are paged in, their delays, and priorities.

const level = fc.record({ delay_seconds: fc.integer({ min: 0, max: 3600 }), user_ids: fc.constant<string[]>(['u']), schedule_ids: fc.constant<string[]>([]) });

describe('nextStep', () => {
  it('walks every level once per round, repeat + 1 rounds, then stops', () => {
    fc.assert(
      fc.property(fc.array(level, { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 9 }), (levels, repeat) => {
        const walked: Step[] = [{ round: 0, level: 0 }];
        const delays: number[] = [];
        for (let next = nextStep({ levels, repeat }, walked[0]!); next; next = nextStep({ levels, repeat }, walked.at(-1)!)) {
          walked.push(next.step);
          delays.push(next.delay_seconds);
        }
        const expected = Array.from({ length: repeat + 1 }, (_, round) => levels.map((_, index) => ({ round, level: index }))).flat();
        expect(walked).toEqual(expected);
        // A level's delay counts from the previous level; a repeat waits repeatPause.
        expect(delays).toEqual(expected.slice(1).map((s) => (s.level === 0 ? repeatPause(levels) : levels[s.level]!.delay_seconds)));
      }),
    );
  });

  it('pauses before a repeat for level 0 delay, or else the last level delay', () => {
    expect(repeatPause([{ delay_seconds: 30, user_ids: [], schedule_ids: [] }, { delay_seconds: 5, user_ids: [], schedule_ids: [] }])).toBe(30);
    expect(repeatPause([{ delay_seconds: 0, user_ids: [], schedule_ids: [] }, { delay_seconds: 5, user_ids: [], schedule_ids: [] }])).toBe(5);
    expect(policyProblems([{ delay_seconds: 0, user_ids: ['a'], schedule_ids: [] }], 1).map((p) => p.field)).toEqual(['body.repeat']);
    expect(policyProblems([{ delay_seconds: 0, user_ids: ['a'], schedule_ids: [] }], 0)).toEqual([]);
    expect(policyProblems([{ delay_seconds: 0, user_ids: ['a', 'A'], schedule_ids: [] }], 0).map((p) => p.field)).toEqual(['body.levels.0.user_ids.1']);
    // A level names users, schedules or both, never nobody; a schedule named twice is a mistake too.
    expect(policyProblems([{ delay_seconds: 0, user_ids: [], schedule_ids: ['s'] }], 0)).toEqual([]);
    expect(policyProblems([{ delay_seconds: 0, user_ids: [], schedule_ids: [] }], 0).map((p) => p.field)).toEqual(['body.levels.0']);
    expect(policyProblems([{ delay_seconds: 0, user_ids: [], schedule_ids: ['s', 'S'] }], 0).map((p) => p.field)).toEqual(['body.levels.0.schedule_ids.1']);
  });

  it('pages P1 and P2 with high priority, P3 normal, P4 low', () => {
    expect((['P1', 'P2', 'P3', 'P4'] as const).map(pagePriority)).toEqual(['high', 'high', 'normal', 'low']);
  });
});

describe('localeChain', () => {
  it('falls back from the most specific tag to English', () => {
    expect(localeChain('pt-BR')).toEqual(['pt-BR', 'pt', 'en']);
    expect(localeChain('zh-hant-tw')).toEqual(['zh-Hant-TW', 'zh-Hant', 'zh', 'en']);
    expect(localeChain('en-GB')).toEqual(['en-GB', 'en']);
    expect(localeChain(undefined)).toEqual(['en']);
    expect(localeChain('not a locale')).toEqual(['en']);
  });
});
