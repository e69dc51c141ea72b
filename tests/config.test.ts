// SPEC section 1: configuration is validated at start; a bad value is refused with a message that
// names the variable. The variables of issue 10, case by case.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

const refusal = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
};

describe('configuration', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({})).toMatchObject({
      TRUST_PROXY: false,
      INTAKE_RATE_LIMIT_PER_MINUTE: 600,
      SHUTDOWN_TIMEOUT_SECONDS: 25,
      PUBLIC_URL: 'http://127.0.0.1:8080',
    });
    expect(loadConfig({ HOST: '::1', PORT: '9000' }).PUBLIC_URL).toBe('http://[::1]:9000');
  });

  it('reads TRUST_PROXY as a boolean, a hop count or a list of addresses and CIDRs', () => {
    expect(loadConfig({ TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).TRUST_PROXY).toBe(2);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,fd00::/8' }).TRUST_PROXY).toEqual(['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);
    for (const bad of ['yes', '10.0.0.0/33', '300.1.1.1', 'proxy.internal', '::1/129']) {
      expect(refusal({ TRUST_PROXY: bad })).toContain('TRUST_PROXY');
    }
  });

  it('takes PUBLIC_URL as an http(s) URL without a path, and shows the bad value', () => {
    expect(loadConfig({ PUBLIC_URL: 'https://tocsin.example.com/' }).PUBLIC_URL).toBe('https://tocsin.example.com');
    expect(loadConfig({ PUBLIC_URL: 'http://10.0.0.5:8080' }).PUBLIC_URL).toBe('http://10.0.0.5:8080');
    for (const bad of ['tocsin.example.com', 'ftp://x.example.com', 'https://x.example.com/tocsin', 'https://x.example.com?a=1']) {
      expect(refusal({ PUBLIC_URL: bad })).toMatch(new RegExp(`PUBLIC_URL must be an http\\(s\\) URL without a path.*${bad.replace(/[?.]/g, '\\$&')}`));
    }
  });

  it('bounds INTAKE_RATE_LIMIT_PER_MINUTE and SHUTDOWN_TIMEOUT_SECONDS', () => {
    expect(loadConfig({ INTAKE_RATE_LIMIT_PER_MINUTE: '5', SHUTDOWN_TIMEOUT_SECONDS: '3' })).toMatchObject({ INTAKE_RATE_LIMIT_PER_MINUTE: 5, SHUTDOWN_TIMEOUT_SECONDS: 3 });
    const message = refusal({ INTAKE_RATE_LIMIT_PER_MINUTE: '0', SHUTDOWN_TIMEOUT_SECONDS: 'soon' });
    expect(message).toContain('INTAKE_RATE_LIMIT_PER_MINUTE');
    expect(message).toContain('SHUTDOWN_TIMEOUT_SECONDS');
  });

  it('reads SESSION_TTL_HOURS (SPEC section 10): 12 by default, decimals allowed, above 0', () => {
    expect(loadConfig({})).toMatchObject({ SESSION_TTL_HOURS: 12 });
    expect(loadConfig({ SESSION_TTL_HOURS: '0.5' })).toMatchObject({ SESSION_TTL_HOURS: 0.5 });
    expect(() => loadConfig({ SESSION_TTL_HOURS: '0' })).toThrow(/SESSION_TTL_HOURS/);
    expect(() => loadConfig({ SESSION_TTL_HOURS: 'a day' })).toThrow(/SESSION_TTL_HOURS/);
  });

  it('reads the stream variables of issue 12: a postgres DATABASE_LISTEN_URL, decimal EVENT_RETENTION_HOURS, a bounded heartbeat', () => {
    expect(loadConfig({})).toMatchObject({ EVENT_RETENTION_HOURS: 24, STREAM_HEARTBEAT_SECONDS: 15 });
    expect(loadConfig({}).DATABASE_LISTEN_URL).toBeUndefined();
    expect(loadConfig({ DATABASE_LISTEN_URL: 'postgres://db:5432/tocsin', EVENT_RETENTION_HOURS: '0.01', STREAM_HEARTBEAT_SECONDS: '0.5' })).toMatchObject({
      DATABASE_LISTEN_URL: 'postgres://db:5432/tocsin',
      EVENT_RETENTION_HOURS: 0.01,
      STREAM_HEARTBEAT_SECONDS: 0.5,
    });
    const message = refusal({ DATABASE_LISTEN_URL: 'mysql://db/tocsin', EVENT_RETENTION_HOURS: '0', STREAM_HEARTBEAT_SECONDS: '60' });
    expect(message).toContain('DATABASE_LISTEN_URL must be a URL starting with postgres or postgresql://; got (value hidden)');
    expect(message).toContain('EVENT_RETENTION_HOURS');
    expect(message).toContain('STREAM_HEARTBEAT_SECONDS');
  });
});
