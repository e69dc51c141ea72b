import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * A program a test drives (promtool, a real Alertmanager). With REQUIRE_TOOLS=1 (set by .ci/run)
 * a missing program fails the tests that need it; elsewhere (a developer's machine) they are
 * skipped, and the skip says so, in the test's name and on stderr.
 */
export function requiredTool(name: string, options: { paths?: string[]; command?: string[]; install: string }) {
  const found = options.paths
    ? options.paths.find((file) => existsSync(file))
    : options.command && spawnSync(options.command[0]!, options.command.slice(1), { stdio: 'ignore' }).status === 0 ? options.command[0] : undefined;
  const required = ['1', 'true', 'yes'].includes((process.env.REQUIRE_TOOLS ?? '').toLowerCase());
  const skip = !found && !required;
  if (skip) process.stderr.write(`SKIPPED: tests that need ${name} (${options.install}; REQUIRE_TOOLS=1 makes this a failure, as in CI)\n`);
  return {
    path: found,
    skip,
    /** Appended to the describe's name. */
    label: found ? '' : skip ? ` (SKIPPED: ${name} is not installed: ${options.install})` : ` (${name} is required: REQUIRE_TOOLS is set)`,
    /** Call in beforeAll: fails every test of the block when the tool is required and missing. */
    assertPresent(): string {
      if (!found) throw new Error(`${name} is not installed and REQUIRE_TOOLS is set: ${options.install}`);
      return found;
    },
  };
}
