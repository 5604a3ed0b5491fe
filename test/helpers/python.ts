// The machine's Python for the tests that drive Python client libraries (Debian's
// python3-msal, python3-psycopg): the first python3 that imports `module` (a pyenv
// python3 on PATH may lack Debian's modules), with the module's version.
import { spawnSync } from 'node:child_process';

export function findPython(module: string): { python?: string; version?: string } {
  for (const python of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(python, ['-c', `import ${module}; print(${module}.__version__)`], { encoding: 'utf8' });
    if (r.status === 0) return { python, version: r.stdout.trim() };
  }
  return {};
}
