/**
 * `hashwarden serve --workers N`: N sidecar processes (node:cluster) sharing one port, so that
 * lookups use every core; one process answers one lookup at a time on its event loop. The primary
 * loads no lists and takes no request: it starts the workers, starts another for one that dies,
 * and on SIGTERM or SIGINT asks each to shut down gracefully and waits for them all.
 */
import cluster, { type Worker } from 'node:cluster';
import { EXIT, type CliIo } from './command.js';
import { jsonLine } from './escape.js';

/** Runs `count` workers until a signal; resolves to the exit status: 0 when every worker stopped cleanly. */
export function runWorkers(count: number, io: CliIo): Promise<number> {
  return new Promise<number>((resolve) => {
    const live = new Set<Worker>();
    let stopping = false;
    let status: number = EXIT.ok;
    // The workers' lines are pino's; the primary's few have the same fields.
    const log = (event: string, fields: object = {}) =>
      io.out(jsonLine({ level: 30, time: Date.now(), pid: process.pid, event, ...fields, msg: event }));
    const finish = () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve(status);
    };
    const stop = (reason: string) => {
      if (stopping) return;
      stopping = true;
      log('shutdown', { reason, workers: live.size });
      for (const worker of live) worker.process.kill('SIGTERM');
      if (live.size === 0) finish();
    };
    const start = () => {
      const worker = cluster.fork();
      live.add(worker);
      worker.once('exit', (code, signal) => {
        live.delete(worker);
        if (stopping) {
          if (code !== 0) status = EXIT.error;
          if (live.size === 0) finish();
        } else if (code === EXIT.error) {
          // A worker that cannot load the lists (or is given a wrong option) says so and exits 2:
          // every other would too, so the whole command stops with that status.
          status = EXIT.error;
          stop('a worker could not start');
        } else {
          log('worker-exited', { worker: worker.process.pid, code, signal });
          start();
        }
      });
    };
    const onSignal = (signal: NodeJS.Signals) => stop(signal);
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    for (let i = 0; i < count; i++) start();
  });
}
