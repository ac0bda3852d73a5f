/**
 * Where the video room sits: the core entry (src/index.ts) reaches none of it, by static or
 * dynamic import, and one file of the package starts processes — src/video/ffmpeg.ts, FFmpeg's
 * one spawner (docs/architecture.md).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The package's source files, tests and test helpers left out. */
function sources(): string[] {
  return readdirSync(src, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.startsWith('testing'))
    .map((f) => join(src, f));
}

/** The relative modules `file` imports, statically or with `import()`, as source paths. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map(
    (m) => m[1] as string,
  );
  return specifiers.map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
}

describe('the video room', () => {
  it('is not reached from the core entry', () => {
    const seen = new Set<string>();
    const queue = [join(src, 'index.ts')];
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      queue.push(...imports(file).filter((f) => f.startsWith(src)));
    }
    expect([...seen].map((f) => relative(src, f)).filter((f) => f.startsWith('video'))).toEqual([]);
    expect(seen.size).toBeGreaterThan(20);
  });

  it('holds the one file that starts processes: ffmpeg.ts', () => {
    const spawners = sources().filter((f) => /['"]node:child_process['"]/.test(readFileSync(f, 'utf8')));
    expect(spawners.map((f) => relative(src, f))).toEqual([join('video', 'ffmpeg.ts')]);
  });
});
