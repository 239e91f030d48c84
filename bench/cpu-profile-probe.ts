/**
 * Loaded into a bench target by `BENCH_PROFILE=1 npm run bench` (`node --require
 * dist/bench/cpu-profile-probe.js <service>`, with an IPC channel): on the message `'start'` it
 * starts V8's sampling CPU profiler (100 µs interval, through `node:inspector`); on `'stop'` it stops
 * it and sends back a `CpuBreakdown`: the main thread's samples by where the sampled code lives
 * (with `BENCH_PROFILE_DIR`, the raw profile is also written there, for Chrome DevTools). The
 * service itself is unchanged.
 *
 * Source: the Chrome DevTools Protocol's Profiler domain (`Profiler.start` / `Profiler.stop`,
 * https://chromedevtools.github.io/devtools-protocol/v8/Profiler/).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

/** Main-thread samples per category (see `categoryOf`), idle excluded. */
export type CpuBreakdown = Record<string, number>;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * Where a sampled function lives: a package under node_modules (`typeorm`, `@nestjs/core`, ...),
 * `tenancy library` (libs/tenancy), `app` (the service's own code), a Node core area (`node:http`,
 * `node:net`, `node:stream`, `node:async_hooks`, `node: other`), `native: <name>` (a V8 builtin or a
 * C++ binding, no script: socket writes, JSON, regular expressions), or
 * V8's own entries (`(garbage collector)`, `(program)`).
 */
export function categoryOf(frame: ProfileNode['callFrame']): string {
  const url = frame.url;
  if (!url) return frame.functionName.startsWith('(') ? frame.functionName : `native: ${frame.functionName || '(anonymous)'}`;
  const inModules = url.lastIndexOf('/node_modules/');
  if (inModules >= 0) {
    const parts = url.slice(inModules + '/node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (url.includes('/libs/tenancy/')) return 'tenancy library';
  if (url.startsWith('node:')) {
    const area = /^node:(?:internal\/)?(http|_http|net|stream|streams|async_hooks|timers|events)/.exec(url)?.[1];
    if (!area) return 'node: other';
    const names: Record<string, string> = { _http: 'http', streams: 'stream' };
    return `node:${names[area] ?? area}`;
  }
  return 'app';
}

/**
 * Samples per category of one profile. Samples are counted, not their time deltas: on a busy
 * machine the sampling thread is delayed, and a delta of tens of ms would be charged to whatever
 * ran last; counts keep the shares fair, and the caller scales them to the CPU time it measured.
 */
export function breakdown(profile: Profile): CpuBreakdown {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const out: CpuBreakdown = {};
  for (const id of profile.samples) {
    const node = byNode.get(id);
    if (!node || node.callFrame.functionName === '(idle)') continue;
    const category = categoryOf(node.callFrame);
    out[category] = (out[category] ?? 0) + 1;
  }
  return out;
}

const session = new Session();
const post = <T>(method: string, params?: object) =>
  new Promise<T>((ok, fail) => session.post(method, params ?? {}, (err, result) => (err ? fail(err) : ok(result as T))));

// The channel must not keep the service alive once it is asked to stop.
process.channel?.unref();
process.on('message', (message) => {
  if (message === 'start') {
    session.connect();
    void post('Profiler.enable')
      .then(() => post('Profiler.setSamplingInterval', { interval: 100 }))
      .then(() => post('Profiler.start'))
      .then(() => process.send?.('started'));
  } else if (message === 'stop') {
    void post<{ profile: Profile }>('Profiler.stop').then(({ profile }) => {
      session.disconnect();
      if (process.env.BENCH_PROFILE_DIR)
        writeFileSync(join(process.env.BENCH_PROFILE_DIR, `${process.pid}-${Date.now()}.cpuprofile`), JSON.stringify(profile));
      process.send?.(breakdown(profile));
    });
  }
});
