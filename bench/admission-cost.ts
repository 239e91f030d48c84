/**
 * `node dist/bench/admission-cost.js`: the CPU one request spends in tenant admission, in µs: the
 * shedding middleware's check (`refusal`), the unit of work's `check` and `enter`, and giving the
 * slot back, with the rate counted in this process (the memory store). `ADMISSION_TENANTS` (10,000)
 * tenants of a tier with a rate they stay under (so every request is admitted, the common case)
 * take turns for `ADMISSION_REQUESTS` (200,000) requests; the figure is process CPU (user + system)
 * over the requests, the best of `ADMISSION_ROUNDS` (5) rounds. Prints the 1-minute load beside it.
 */
import { ThrottlerStorageService } from '@nestjs/throttler';
import { loadavg } from 'node:os';
import { resolveTenancyOptions } from '../libs/tenancy/src/config/tenancy-options';
import { TenantAdmission } from '../libs/tenancy/src/data-source/tenant-admission';

const TENANTS = Number(process.env.ADMISSION_TENANTS ?? 10_000);
const REQUESTS = Number(process.env.ADMISSION_REQUESTS ?? 200_000);
const ROUNDS = Number(process.env.ADMISSION_ROUNDS ?? 5);

async function main(): Promise<void> {
  const options = resolveTenancyOptions({
    databaseUrl: 'postgres://owner@localhost/control',
    catalog: { tiers: { metered: { strategy: 'shared', rate: { perSecond: 1_000, burst: 1_000 } } }, tenants: [] },
    entities: [],
    migrations: [],
  });
  const admission = new TenantAdmission(options, new ThrottlerStorageService());
  const tenants = Array.from({ length: TENANTS }, (_, i) => ({ id: `t${i}`, tier: 'metered' }));
  const perRequest: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const before = process.cpuUsage();
    for (let i = 0; i < REQUESTS; i++) {
      const tenant = tenants[i % TENANTS];
      if (admission.refusal(tenant)) throw new Error('refused');
      admission.check(tenant);
      // `enter` may answer at once or with a promise (a shared store): await what it gives.
      const leave = await admission.enter(tenant);
      leave();
    }
    const used = process.cpuUsage(before);
    perRequest.push((used.user + used.system) / REQUESTS);
  }
  await (admission as unknown as { onApplicationShutdown?: () => unknown }).onApplicationShutdown?.();
  const best = Math.min(...perRequest);
  console.log(
    `admission: ${best.toFixed(2)} µs CPU per request (best of ${ROUNDS} rounds of ${REQUESTS} requests over ${TENANTS} tenants; ` +
      `rounds ${perRequest.map((x) => x.toFixed(2)).join(', ')}); 1-minute load ${loadavg()[0].toFixed(2)}`,
  );
}

void main();
