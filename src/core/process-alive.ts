// Whether a process id names a running process, for files named after the process that wrote
// them (the sandbox hosts' working directories, half-written snapshots, an older build's lock):
// signal 0 checks without sending anything.

/** True while `pid` runs, this process included; EPERM means it runs as another user. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
