// End to end over real HTTP: start the server process on port 0, drive it, stop it with SIGTERM
// while requests are in flight, restart it on the same data dir and find every answered write.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { b64, SAMPLE_HANDLER, SHARED_CACHE_DIR } from '../helpers/platform.js';
import { sleepingHandler, slowImportHandler } from '../helpers/samples.js';
import { startServer } from '../helpers/server-process.js';

describe('the server process', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'eunha-e2e-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('serves, shuts down gracefully on SIGTERM, and keeps all data across a restart', async () => {
    const env = { EUNHA_DATA_DIR: dataDir, EUNHA_CACHE_DIR: SHARED_CACHE_DIR, EUNHA_WARM_POOL_SIZE: '0' };
    const s1 = await startServer(env, 90_000);
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${s1.url}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test JSON is read loosely
      return { status: res.status, json: (res.status === 204 ? null : await res.json()) as any };
    };
    assert.deepEqual((await api('GET', '/health')).json, { status: 'healthy' });
    const ws = (await api('POST', '/api/workspaces', { name: 'e2e' })).json;
    const fn = (
      await api('POST', `/api/workspaces/${ws.id}/functions`, { name: 'hello', code: b64(SAMPLE_HANDLER) })
    ).json;
    assert.match(fn.id, /^fn-/);
    const bad = await api('POST', `/api/workspaces/${ws.id}/functions`, {
      name: 'bad',
      code: b64('x'),
      memory: 4096,
    });
    assert.equal(bad.status, 400);

    // Every log line is JSON and the request lines carry a request id.
    const lines = s1.output().trim().split('\n');
    for (const line of lines) JSON.parse(line);
    assert.ok(
      lines.some((l) => JSON.parse(l).requestId),
      'request log lines carry requestId',
    );

    // Fire writes, then SIGTERM while they are in flight.
    const inflight = Array.from({ length: 40 }, (_, i) =>
      fetch(`${s1.url}/api/workspaces/${ws.id}/functions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: `f${i}`, code: b64(`n = ${i}\n`) }),
      }).then(
        async (r) => ({
          status: r.status,
          id: r.status === 201 ? ((await r.json()) as { id: string }).id : null,
        }),
        () => ({ status: 0, id: null }),
      ),
    );
    await new Promise((r) => setTimeout(r, 5));
    s1.child.kill('SIGTERM');
    const results = await Promise.all(inflight);
    assert.equal(await s1.exited, 0, s1.output());
    assert.match(s1.output(), /stopped cleanly/);
    for (const r of results) assert.ok([201, 503, 0].includes(r.status), `unexpected status ${r.status}`);
    const answered = results.filter((r) => r.status === 201).map((r) => r.id!);

    const s2 = await startServer(env, 90_000);
    try {
      const list = (await (await fetch(`${s2.url}/api/workspaces/${ws.id}/functions`)).json()) as Array<{
        id: string;
        code: string;
      }>;
      const ids = new Set(list.map((f) => f.id));
      assert.ok(ids.has(fn.id));
      for (const id of answered) assert.ok(ids.has(id), `function ${id} answered 201 but was lost`);
      assert.equal(Buffer.from(list.find((f) => f.id === fn.id)!.code, 'base64').toString(), SAMPLE_HANDLER);
      const w = (await (await fetch(`${s2.url}/api/workspaces/${ws.id}`)).json()) as {
        functionCount: number;
      };
      assert.equal(w.functionCount, list.length);
    } finally {
      s2.child.kill('SIGTERM');
      assert.equal(await s2.exited, 0);
    }
  });

  test(
    'a running build ends with the grace period (its task interrupted), not after it',
    { timeout: 120_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'eunha-grace-'));
      try {
        const env = {
          EUNHA_DATA_DIR: dir,
          EUNHA_CACHE_DIR: SHARED_CACHE_DIR,
          EUNHA_WARM_POOL_SIZE: '1',
          EUNHA_SHUTDOWN_GRACE_MS: '8000',
        };
        const s1 = await startServer(env, 90_000);
        const form = new FormData();
        form.append('file', new Blob([`import time\ntime.sleep(30)\n${SAMPLE_HANDLER}`]), 'slow.py');
        const task = (await (
          await fetch(`${s1.url}/api/v1/build`, { method: 'POST', body: form })
        ).json()) as {
          task_id: string;
        };
        const status = async (url: string) =>
          (
            (await (await fetch(`${url}/api/v1/tasks/${task.task_id}`)).json()) as {
              status: string;
              error: string;
            }
          ).status;
        for (let i = 0; i < 200 && (await status(s1.url)) !== 'running'; i++)
          await new Promise((r) => setTimeout(r, 50));
        // Module code in the check now, for up to its 10-s deadline: past the 8-s grace period
        // (the cut comes 3 s before its end, leaving the stop 3 s on a loaded machine).
        await new Promise((r) => setTimeout(r, 300));
        s1.child.kill('SIGTERM');
        // The stop may still overrun on a loaded machine (the 3 s after the cut hold the runtime's
        // stop too); what matters is that the cut ended the check and recorded the task then. It
        // used to wait for the check's 10-s deadline, past the grace period: the task was still
        // running at the exit, and only the next start marked it interrupted.
        const code = await s1.exited;
        const exitedAt = Date.now();
        if (code !== 0) assert.match(s1.output(), /ended 1 running requests and build checks/);
        const s2 = await startServer(env, 90_000);
        try {
          const t = (await (await fetch(`${s2.url}/api/v1/tasks/${task.task_id}`)).json()) as {
            status: string;
            error: string;
          };
          assert.equal(t.status, 'failed');
          assert.match(t.error, /^interrupted: the server stopped while this task was running/);
          const listed = (await (await fetch(`${s2.url}/api/v1/workspaces/ws-default/tasks`)).json()) as {
            tasks: Array<{ task_id: string; updated_at: string }>;
          };
          const updatedAt = Date.parse(listed.tasks.find((x) => x.task_id === task.task_id)!.updated_at);
          assert.ok(
            updatedAt <= exitedAt,
            'the task was recorded as interrupted by the stop, not by the next start',
          );
        } finally {
          s2.child.kill('SIGTERM');
          await s2.exited;
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test(
    'with the shortest grace period (1 s), a running request gets its 503 and answered calls their logs',
    { timeout: 120_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'eunha-grace0-'));
      try {
        // 0 was accepted, and then the exit came before the running request's 503: no answer at all.
        const env = {
          EUNHA_DATA_DIR: dir,
          EUNHA_CACHE_DIR: SHARED_CACHE_DIR,
          EUNHA_WARM_POOL_SIZE: '1',
          EUNHA_SHUTDOWN_GRACE_MS: '1000',
        };
        const s1 = await startServer(env, 90_000);
        const post = async (url: string, body?: unknown) =>
          (await (
            await fetch(url, {
              method: 'POST',
              headers: body === undefined ? {} : { 'content-type': 'application/json' },
              body: body === undefined ? undefined : JSON.stringify(body),
            })
          ).json()) as { id: string };
        const ws = await post(`${s1.url}/api/workspaces`, { name: 'grace0' });
        const fn = await post(`${s1.url}/api/workspaces/${ws.id}/functions`, {
          name: 'f',
          code: b64(SAMPLE_HANDLER),
        });
        await post(`${s1.url}/api/workspaces/${ws.id}/functions/${fn.id}/deployments`);
        const slow = await post(`${s1.url}/api/workspaces/${ws.id}/functions`, {
          name: 'slow',
          code: b64(sleepingHandler(20)),
          timeout: 60,
        });
        await post(`${s1.url}/api/workspaces/${ws.id}/functions/${slow.id}/deployments`);
        const running = fetch(`${s1.url}/fn/${slow.id}`).then(
          async (r) => ({ status: r.status, body: await r.text() }),
          (e: unknown) => ({ status: 0, body: String(e) }),
        );
        // Calls on 8 connections, then SIGTERM mid-stream: some answered call's log is then still in
        // the writer's batch (flushed every 10 ms), which the exit at once used to drop.
        let answered = 0;
        let stopping = false;
        const caller = async () => {
          while (!stopping) {
            const ok = await fetch(`${s1.url}/fn/${fn.id}`).then(
              async (r) => r.status === 200 && (await r.text()) !== '',
              () => false,
            );
            if (ok) answered++;
          }
        };
        const callers = Array.from({ length: 8 }, caller);
        await new Promise((r) => setTimeout(r, 1_500));
        s1.child.kill('SIGTERM');
        const code = await s1.exited;
        stopping = true;
        await Promise.all(callers);
        // The stop may overrun the short grace (the runtime's own stop takes about a second): then it
        // writes the answered calls' logs before it exits 1.
        if (code !== 0) assert.match(s1.output(), /grace period over/);
        const cut = await running;
        assert.equal(cut.status, 503, cut.body);
        assert.match(cut.body, /SHUTTING_DOWN/);
        assert.ok(answered > 20, `only ${answered} calls answered`);
        const s2 = await startServer(env, 90_000);
        try {
          const page = (await (
            await fetch(`${s2.url}/api/workspaces/${ws.id}/functions/${fn.id}/logs?limit=1000`)
          ).json()) as { logs: Array<{ statusCode: number }> };
          const logged = page.logs.filter((l) => l.statusCode === 200).length;
          assert.ok(logged >= answered, `${answered} calls answered 200, ${logged} logged`);
        } finally {
          s2.child.kill('SIGTERM');
          await s2.exited;
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test(
    'SIGHUP stops gracefully; a second signal during a stop exits at once',
    { timeout: 120_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'eunha-signals-'));
      try {
        const env = { EUNHA_DATA_DIR: dir, EUNHA_CACHE_DIR: SHARED_CACHE_DIR, EUNHA_WARM_POOL_SIZE: '1' };
        // SIGHUP used to end the process at once (killed by the signal), batched logs and all.
        const s1 = await startServer(env, 90_000);
        s1.child.kill('SIGHUP');
        assert.equal(await s1.exited, 0, s1.output());
        assert.match(s1.output(), /"signal":"SIGHUP".*shutting down/);
        assert.match(s1.output(), /stopped cleanly/);

        // A second Ctrl-C while a request holds the stop: it used to be ignored until the grace
        // period (here 20 s) was over.
        const s2 = await startServer({ ...env, EUNHA_SHUTDOWN_GRACE_MS: '20000' }, 90_000);
        const post = async (url: string, body?: unknown) =>
          (await (
            await fetch(`${s2.url}${url}`, {
              method: 'POST',
              headers: body === undefined ? {} : { 'content-type': 'application/json' },
              body: body === undefined ? undefined : JSON.stringify(body),
            })
          ).json()) as { id: string };
        const ws = await post('/api/workspaces', { name: 'signals' });
        const fn = await post(`/api/workspaces/${ws.id}/functions`, {
          name: 'slow',
          code: b64(sleepingHandler(30)),
          timeout: 60,
        });
        await post(`/api/workspaces/${ws.id}/functions/${fn.id}/deployments`);
        const call = fetch(`${s2.url}/fn/${fn.id}`).then(
          (r) => r.status,
          () => 0,
        );
        await new Promise((r) => setTimeout(r, 1_000));
        s2.child.kill('SIGINT');
        await new Promise((r) => setTimeout(r, 300));
        const second = Date.now();
        s2.child.kill('SIGINT');
        assert.equal(await s2.exited, 1, s2.output());
        const ms = Date.now() - second;
        assert.ok(ms < 2_000, `exited ${ms} ms after the second SIGINT`);
        assert.match(s2.output(), /SIGINT again while stopping: exiting now; execution logs still waiting/);
        assert.doesNotMatch(s2.output(), /stopped cleanly/);
        await call;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test(
    "Ctrl-C to the server's process group lets the calls in flight finish, hosts included",
    { timeout: 120_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'eunha-group-'));
      try {
        const env = { EUNHA_DATA_DIR: dir, EUNHA_CACHE_DIR: SHARED_CACHE_DIR, EUNHA_WARM_POOL_SIZE: '1' };
        const s = await startServer(env, 90_000, undefined, true);
        const api = async (path: string, body?: unknown) =>
          (await (
            await fetch(s.url + path, {
              method: 'POST',
              headers: body === undefined ? {} : { 'content-type': 'application/json' },
              body: body === undefined ? undefined : JSON.stringify(body),
            })
          ).json()) as { id: string };
        const ws = (await api('/api/workspaces', { name: 'group' })).id;
        const fn = (
          await api(`/api/workspaces/${ws}/functions`, {
            name: 'slow',
            code: b64(sleepingHandler(2)),
            maxInstances: 3,
          })
        ).id;
        await api(`/api/workspaces/${ws}/functions/${fn}/deployments`);
        const calls = Array.from({ length: 3 }, () => fetch(`${s.url}/fn/${fn}`).then((r) => r.status));
        await new Promise((r) => setTimeout(r, 700));
        // What a terminal does on Ctrl-C: SIGINT to every process of the foreground group.
        process.kill(-s.child.pid!, 'SIGINT');
        assert.deepEqual(await Promise.all(calls), [200, 200, 200], s.output());
        assert.equal(await s.exited, 0, s.output());
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test('one server per data directory; a killed server leaves no lock behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eunha-lock-'));
    try {
      const env = { EUNHA_DATA_DIR: dir, EUNHA_CACHE_DIR: SHARED_CACHE_DIR, EUNHA_WARM_POOL_SIZE: '0' };
      const first = await startServer(env, 90_000);
      try {
        const second = await startServer(env).then(
          () => assert.fail('a second server started on the same data directory'),
          (e: unknown) => String(e),
        );
        assert.match(second, /exited with 2/);
        assert.match(second, new RegExp(`in use by process ${first.child.pid}`));
        assert.doesNotMatch(second, /\n\s+at /, 'one line, no stack trace');
        // The first one never noticed.
        assert.equal((await fetch(`${first.url}/health`)).status, 200);
      } finally {
        first.child.kill('SIGKILL');
        await first.exited;
      }
      // Killed: the pid it wrote is still there, but its lock went with the process.
      assert.match(readFileSync(join(dir, 'eunha.lock.pid'), 'utf8'), new RegExp(`^${first.child.pid}`));
      const third = await startServer(env, 90_000);
      third.child.kill('SIGTERM');
      assert.equal(await third.exited, 0);
      // A clean stop gives it back as well.
      const fourth = await startServer(env, 90_000);
      fourth.child.kill('SIGTERM');
      assert.equal(await fourth.exited, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a bad configuration stops the start with a message naming the variable', async () => {
    await assert.rejects(
      startServer({ EUNHA_DATA_DIR: dataDir, EUNHA_CACHE_DIR: SHARED_CACHE_DIR, EUNHA_PORT: 'x' }),
      /EUNHA_PORT/,
    );
    await assert.rejects(
      startServer({ EUNHA_DATA_DIR: dataDir, EUNHA_CACHE_DIR: SHARED_CACHE_DIR, CORS_ORIGINS: 'nope' }),
      /CORS_ORIGINS/,
    );
  });

  test('listens at once while slow deployments restore, and a SIGTERM then stops it promptly', async (t) => {
    // Four functions whose import sleeps 5 s: the server used to listen only once all had loaded
    // one by one (35 s here), and a SIGTERM meanwhile waited for all of them.
    const IMPORT_S = 5;
    const COUNT = 4;
    const dir = mkdtempSync(join(tmpdir(), 'eunha-e2e-slow-'));
    try {
      const env = { EUNHA_DATA_DIR: dir, EUNHA_CACHE_DIR: SHARED_CACHE_DIR, EUNHA_WARM_POOL_SIZE: '0' };
      const s1 = await startServer(env, 90_000);
      const post = async (url: string, body?: unknown) => {
        const r = await fetch(`${s1.url}${url}`, {
          method: 'POST',
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: r.status, json: (await r.json()) as { id: string } };
      };
      const fns = await Promise.all(
        Array.from({ length: COUNT }, async (_, i) => {
          const ws = (await post('/api/workspaces', { name: `slow${i}` })).json.id;
          const fn = (
            await post(`/api/workspaces/${ws}/functions`, {
              name: 'slow',
              code: b64(slowImportHandler(IMPORT_S)),
              timeout: 60,
            })
          ).json.id;
          const d = await post(`/api/workspaces/${ws}/functions/${fn}/deployments`);
          assert.equal(d.status, 201, JSON.stringify(d.json));
          return fn;
        }),
      );
      s1.child.kill('SIGTERM');
      assert.equal(await s1.exited, 0, s1.output());

      const t0 = Date.now();
      const s2 = await startServer(env, 90_000);
      const upMs = Date.now() - t0;
      try {
        assert.ok(upMs < IMPORT_S * 1000, `listening after ${upMs} ms`);
        assert.equal((await fetch(`${s2.url}/health`)).status, 200);
        const ready = await fetch(`${s2.url}/ready`);
        const body = (await ready.json()) as {
          error: { details: { checks: { deployments: { restoring: number } } } };
        };
        assert.equal(ready.status, 503, JSON.stringify(body));
        assert.ok(body.error.details.checks.deployments.restoring > 0, JSON.stringify(body));
      } finally {
        const stopping = Date.now();
        s2.child.kill('SIGTERM');
        assert.equal(await s2.exited, 0, s2.output());
        const stopMs = Date.now() - stopping;
        t.diagnostic(`listening after ${upMs} ms; SIGTERM to exit ${stopMs} ms`);
        // The default grace is 10 s; the restores under way are abandoned, the others skipped.
        assert.ok(stopMs < 5_000, `the stop took ${stopMs} ms`);
        assert.doesNotMatch(s2.output(), /grace period over/);
      }

      // Nothing was lost by the stop: the next start restores them.
      const s3 = await startServer(env, 90_000);
      try {
        for (const fn of fns) assert.equal((await fetch(`${s3.url}/fn/${fn}`)).status, 200);
      } finally {
        s3.child.kill('SIGTERM');
        assert.equal(await s3.exited, 0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
