/*
 * Preloaded into each server process of the ws-memory bench (`--expose-gc --import` this file):
 * on SIGUSR2 it collects garbage and prints the process's memory on one line, so the parent reads
 * live memory rather than whatever the heap happened to reserve.
 */
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
  process.stdout.write(`MEMORY ${JSON.stringify(process.memoryUsage())}\n`);
});
