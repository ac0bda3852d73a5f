/**
 * The Lambda upload hook, run as Lambda would run it: the module loaded once with its environment
 * (a snapshot of four test vectors, objects read from a local directory), then invoked with S3
 * events. Runs against the built package (`npm run build`): `hashwarden` resolves to dist/.
 */
import { generateKeyPairSync } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HashwardenError, Matcher } from 'hashwarden';
import { LISTED, TEST_VECTORS, writeExampleSnapshot } from './example-lists.mjs';

type Decision = {
  action: 'block' | 'allow' | 'reject';
  bucket: string;
  key: string;
  lists: string[];
  code?: string;
  reason?: string;
  match?: Record<string, unknown>;
  notChecked?: Record<string, string>;
};
type Handler = (event: unknown) => Promise<{ decisions: Decision[] }>;
type HandlerModule = {
  handler: Handler;
  createHandler: (options: {
    matcher: Matcher | Promise<Matcher>;
    readObject: (
      o: { bucket: string; key: string; size?: number },
      options: { maxBytes: number },
    ) => Promise<Uint8Array>;
    maxBytes?: number;
    log?: (d: Decision) => void;
    checkEverySeconds?: number;
  }) => Handler;
  localObjectReader: (
    root: string,
  ) => (o: { bucket: string; key: string }, options: { maxBytes: number }) => Promise<Uint8Array>;
  uploadedObjects: (event: unknown) => { bucket: string; key: string; size?: number }[];
};

/** An S3 event notification for `keys` in bucket `uploads`, keys encoded as S3 encodes them. */
function s3Event(...keys: string[]): unknown {
  return {
    Records: keys.map((key) => ({
      eventSource: 'aws:s3',
      eventName: 'ObjectCreated:Put',
      s3: { bucket: { name: 'uploads' }, object: { key: encodeURIComponent(key).replace(/%20/g, '+') } },
    })),
  };
}

let dir: string;
let uploads: string;
let mod: HandlerModule;
let opens: ReturnType<typeof vi.spyOn>;
const saved = {
  snapshot: process.env.HASHWARDEN_SNAPSHOT,
  keys: process.env.HASHWARDEN_TRUSTED_KEYS,
  floor: process.env.HASHWARDEN_MIN_SEQUENCE,
  local: process.env.LOCAL_OBJECT_DIR,
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hashwarden-lambda-'));
  uploads = join(dir, 'uploads');
  // Signed, as a publisher signs it; the function trusts only that key (HASHWARDEN_TRUSTED_KEYS).
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  await writeExampleSnapshot(join(dir, 'example.snap'), undefined, { privateKey });
  await writeFile(join(dir, 'signer.pub'), publicKey.export({ type: 'spki', format: 'pem' }) as string);
  // The uploads: a listed original, an edited copy of one (re-encoded, so only PDQ can find it),
  // an unlisted image, and broken files.
  await mkdir(uploads);
  await copyFile(join(TEST_VECTORS, 'shapes-1024x768.jpg'), join(uploads, 'listed original.jpg'));
  await copyFile(join(TEST_VECTORS, 'landscape-1600x1200--jpeg60.jpg'), join(uploads, 'listed-edit.jpg'));
  await copyFile(join(TEST_VECTORS, 'terrain-333x250.jpg'), join(uploads, 'unlisted.jpg'));
  await copyFile(join(TEST_VECTORS, 'flat-grey-64x64.png'), join(uploads, 'flat.png'));
  const jpeg = await readFile(join(TEST_VECTORS, LISTED[1]!));
  await writeFile(join(uploads, 'truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 3)));
  await writeFile(join(uploads, 'not-an-image.jpg'), Buffer.from('this is text that says it is a JPEG'));
  await writeFile(
    join(uploads, 'drawing.svg'),
    '<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/passwd"/></svg>',
  );
  // Animations from the hostile-input corpus: the listed mosaic at frame 2 of 4, and at frame 40 of
  // 41, beyond the 32 frames hashed by default.
  const HOSTILE = join(TEST_VECTORS, '..', 'hostile');
  await copyFile(join(HOSTILE, 'animated-listed-frame-2.gif'), join(uploads, 'frame-2.gif'));
  await copyFile(join(HOSTILE, 'animated-listed-frame-40.gif'), join(uploads, 'frame-40.gif'));

  process.env.HASHWARDEN_SNAPSHOT = join(dir, 'example.snap');
  process.env.HASHWARDEN_TRUSTED_KEYS = join(dir, 'signer.pub');
  // A floor the snapshot is above (its sequence is the time it was written).
  process.env.HASHWARDEN_MIN_SEQUENCE = String(Date.now() - 3_600_000);
  process.env.LOCAL_OBJECT_DIR = uploads;
  opens = vi.spyOn(Matcher, 'openSnapshot');
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
  mod = (await import('./handler.mjs')) as HandlerModule;
});

afterAll(async () => {
  vi.restoreAllMocks();
  for (const [name, value] of [
    ['HASHWARDEN_SNAPSHOT', saved.snapshot],
    ['HASHWARDEN_TRUSTED_KEYS', saved.keys],
    ['HASHWARDEN_MIN_SEQUENCE', saved.floor],
    ['LOCAL_OBJECT_DIR', saved.local],
  ] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await rm(dir, { recursive: true, force: true });
});

describe('the Lambda upload hook', () => {
  it('blocks a listed image, naming the list, entry and distance but no hash', async () => {
    const { decisions } = await mod.handler(s3Event('listed original.jpg'));
    expect(decisions).toHaveLength(1);
    const [d] = decisions;
    expect(d).toMatchObject({ action: 'block', bucket: 'uploads', key: 'listed original.jpg', lists: ['example@1'] });
    expect(d!.match).toMatchObject({
      list: 'example',
      entryId: 'shapes-1024x768.jpg:md5',
      algorithm: 'md5',
      distance: 0,
      listLabel: 'block-and-report',
      listVersion: 1,
    });
    expect(JSON.stringify(d)).not.toMatch(/[0-9a-f]{32}/);
  });

  it('blocks an edited copy of a listed image by its PDQ hash', async () => {
    const { decisions } = await mod.handler(s3Event('listed-edit.jpg'));
    expect(decisions[0]).toMatchObject({
      action: 'block',
      match: { list: 'example', entryId: 'landscape-1600x1200.jpg:pdq', algorithm: 'pdq' },
    });
    expect(decisions[0]!.match!.distance).toBeLessThanOrEqual(31);
  });

  it('allows an unlisted image', async () => {
    const { decisions } = await mod.handler(s3Event('unlisted.jpg'));
    expect(decisions).toEqual([{ action: 'allow', bucket: 'uploads', key: 'unlisted.jpg', lists: ['example@1'] }]);
  });

  it('allows a featureless image but says which hash could not check it', async () => {
    const { decisions } = await mod.handler(s3Event('flat.png'));
    expect(decisions[0]).toMatchObject({ action: 'allow', notChecked: { pdq: expect.stringContaining('below 50') } });
  });

  it('rejects a corrupt (truncated) image instead of allowing it', async () => {
    const { decisions } = await mod.handler(s3Event('truncated.jpg'));
    expect(decisions[0]).toMatchObject({ action: 'reject', key: 'truncated.jpg', code: 'ERR_IMAGE_DECODE' });
  });

  it('rejects files that are not images, and SVG, whatever their name', async () => {
    const { decisions } = await mod.handler(s3Event('not-an-image.jpg', 'drawing.svg'));
    expect(decisions.map((d) => [d.action, d.code])).toEqual([
      ['reject', 'ERR_UNSUPPORTED_FORMAT'],
      ['reject', 'ERR_UNSUPPORTED_FORMAT'],
    ]);
  });

  it('blocks an animation whose listed image is in a later frame, naming the frame', async () => {
    const { decisions } = await mod.handler(s3Event('frame-2.gif'));
    expect(decisions[0]).toMatchObject({
      action: 'block',
      match: { list: 'example', entryId: expect.stringMatching(/^mosaic-400x300\.jpg:/), frame: 2 },
    });
  });

  it('says which frames of a long animation were not hashed', async () => {
    const { decisions } = await mod.handler(s3Event('frame-40.gif'));
    expect(decisions[0]).toMatchObject({
      action: 'allow',
      notChecked: { frames: 'frames 32-40 of 41 were not hashed' },
    });
  });

  it('decides every object of an event, in order', async () => {
    const { decisions } = await mod.handler(s3Event('unlisted.jpg', 'listed original.jpg', 'truncated.jpg'));
    expect(decisions.map((d) => d.action)).toEqual(['allow', 'block', 'reject']);
  });

  it('takes a direct invocation { bucket, key } too', async () => {
    const { decisions } = await mod.handler({ bucket: 'uploads', key: 'unlisted.jpg' });
    expect(decisions[0]!.action).toBe('allow');
  });

  it('opened the snapshot once, when the module loaded, for every invocation', () => {
    expect(opens).toHaveBeenCalledTimes(1);
    expect(opens).toHaveBeenCalledWith(join(dir, 'example.snap'), {
      hashThreads: 0,
      trustedKeys: [expect.stringContaining('PUBLIC KEY')],
      minSequence: expect.any(Number),
    });
  });

  it('picks up a new snapshot of a followed source at invocation start, at most every checkEverySeconds', async () => {
    const path = join(dir, 'followed.snap');
    await writeExampleSnapshot(path);
    const matcher = await Matcher.follow(path, { intervalMs: 0 });
    const clock = vi.spyOn(Date, 'now');
    try {
      const start = Date.now();
      clock.mockReturnValue(start);
      const handler = mod.createHandler({
        matcher,
        readObject: mod.localObjectReader(uploads),
        log: () => undefined,
        checkEverySeconds: 60,
      });
      const decide = async () => (await handler(s3Event('unlisted.jpg'))).decisions[0]!.action;
      expect(await decide()).toBe('allow');
      // The publisher lists the image: a new snapshot renamed over the old one.
      await writeExampleSnapshot(path, [...LISTED, 'terrain-333x250.jpg']);
      clock.mockReturnValue(start + 30_000);
      expect(await decide()).toBe('allow'); // checked less than 60 s ago: not asked again yet
      clock.mockReturnValue(start + 61_000);
      expect(await decide()).toBe('block');
    } finally {
      clock.mockRestore();
      await matcher.close();
    }
  });

  it('fails the invocation, rather than deciding, when the object cannot be read', async () => {
    await expect(mod.handler(s3Event('missing.jpg'))).rejects.toThrow(/ENOENT/);
  });

  it('refuses a key that leads outside the object directory', async () => {
    await expect(mod.handler(s3Event('../example.snap'))).rejects.toThrow(/outside/);
  });

  it('rejects an object over the byte limit without reading it', async () => {
    const readObject = vi.fn(async () => new Uint8Array(0));
    const log = vi.fn();
    const handler = mod.createHandler({
      matcher: Matcher.openSnapshot(join(dir, 'example.snap')),
      readObject,
      maxBytes: 1000,
      log,
    });
    const event = { Records: [{ s3: { bucket: { name: 'uploads' }, object: { key: 'big.jpg', size: 5000 } } }] };
    const { decisions } = await handler(event);
    expect(decisions[0]).toMatchObject({ action: 'reject', code: 'ERR_IMAGE_TOO_LARGE' });
    expect(readObject).not.toHaveBeenCalled();
    expect(log).toHaveBeenCalledWith(decisions[0]);
  });

  it('rejects when the reader refuses an object as too large, and for any future ERR_IMAGE_ code', async () => {
    const matcher = Matcher.openSnapshot(join(dir, 'example.snap'));
    const tooLarge = mod.createHandler({
      matcher,
      readObject: mod.localObjectReader(uploads),
      maxBytes: 100,
      log: () => undefined,
    });
    expect((await tooLarge({ bucket: 'uploads', key: 'unlisted.jpg' })).decisions[0]).toMatchObject({
      action: 'reject',
      code: 'ERR_IMAGE_TOO_LARGE',
    });
    const future = mod.createHandler({
      matcher,
      readObject: async () => {
        throw new HashwardenError('ERR_IMAGE_FRAMES' as never, 'too many frames');
      },
      log: () => undefined,
    });
    expect((await future({ bucket: 'uploads', key: 'x.gif' })).decisions[0]).toMatchObject({
      action: 'reject',
      code: 'ERR_IMAGE_FRAMES',
    });
  });

  it('reads S3 event keys as S3 encodes them', () => {
    expect(
      mod.uploadedObjects({
        Records: [{ s3: { bucket: { name: 'b' }, object: { key: 'a+b%2Bc%C3%A9.jpg', size: 10 } } }],
      }),
    ).toEqual([{ bucket: 'b', key: 'a b+cé.jpg', size: 10 }]);
    expect(() => mod.uploadedObjects({ hello: 'world' })).toThrow(TypeError);
  });

  it('fails its init below the floor HASHWARDEN_MIN_SEQUENCE, and on a floor that is no integer', async () => {
    // Another environment of the same function: a fresh module, with the floor above the snapshot.
    const init = async (floor: string): Promise<unknown> => {
      vi.resetModules();
      process.env.HASHWARDEN_MIN_SEQUENCE = floor;
      try {
        await import('./handler.mjs');
        return 'opened';
      } catch (error) {
        return (error as { code?: string; name: string }).code ?? (error as Error).name;
      } finally {
        process.env.HASHWARDEN_MIN_SEQUENCE = String(Date.now() - 3_600_000);
      }
    };
    expect(await init(String(Number.MAX_SAFE_INTEGER))).toBe('ERR_SNAPSHOT_ROLLBACK');
    expect(await init('1e3x')).toBe('RangeError');
    expect(await init('0')).toBe('opened');
  });
});
