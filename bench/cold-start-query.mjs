// One cold start, as a serverless function or a fresh CLI process pays it: import the core, open
// a snapshot, answer one query. Run by bench/cold-start.ts under hyperfine:
//   node bench/cold-start-query.mjs SNAPSHOT HEX [--phases]
// Exits 0 when the query matched (it is built to), 3 otherwise, so a broken run cannot pass as fast.
// With --phases it prints the time of each phase as JSON (ms; `boot` is Node's own start-up, up
// to the first line of this script).
const boot = performance.now();
const { Matcher } = await import('../dist/index.js');
const imported = performance.now();
const matcher = await Matcher.open(process.argv[2]);
const opened = performance.now();
const matches = matcher.matchHash({ algorithm: 'blockhash', hash: process.argv[3] });
const answered = performance.now();
if (matches.length === 0) {
  console.error('cold-start-query: the query matched nothing');
  process.exit(3);
}
if (process.argv.includes('--phases')) {
  console.log(
    JSON.stringify({
      boot,
      import: imported - boot,
      open: opened - imported,
      query: answered - opened,
      total: answered,
    }),
  );
}
