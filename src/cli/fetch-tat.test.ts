/** `hashwarden fetch tat`'s flags: what they make of the client, and what they refuse. */
import { describe, expect, it } from 'vitest';
import { Secret } from '../exchanges/credentials.js';
import { TAT_BASE_URL } from '../exchanges/tat.js';
import { UsageError } from './command.js';
import { tatProgramme } from './fetch-tat.js';

const credentials = { username: new Secret('analyst'), password: new Secret('pw') };

describe('fetch tat flags', () => {
  it('builds the client from --ideology, --tat-api and --base-url', () => {
    expect(tatProgramme.create({}, credentials, {}).checkpointKey).toBe(`tat:${TAT_BASE_URL}:v2:all`);
    const client = tatProgramme.create({ ideology: 'far-right', 'tat-api': 'v1' }, credentials, {
      baseUrl: 'http://127.0.0.1:8080/tcap',
    });
    expect(client.checkpointKey).toBe('tat:http://127.0.0.1:8080/tcap/:v1:far-right');
  });

  it('refuses an unknown ideology or API version, and --environment, as usage errors', () => {
    expect(() => tatProgramme.create({ ideology: 'far_right' }, credentials, {})).toThrow(UsageError);
    expect(() => tatProgramme.create({ 'tat-api': '3' }, credentials, {})).toThrow(/--tat-api/);
    expect(() => tatProgramme.create({}, credentials, { environment: 'test' })).toThrow(UsageError);
  });
});
