/**
 * Loaded into the kit by `npm run bench:scale` (`node --expose-gc --require dist/bench/kit-probe.js
 * dist/src/main.js`, with an IPC channel): keeps the Nest application `NestFactory.create` builds, and
 * answers the message `'stats'` with the process's memory after a full GC and the pool registry's
 * figures. The service itself is unchanged.
 */
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { PoolRegistry, type PoolRegistryStats } from '../libs/tenancy/src/pools/pool-registry';

/** What the probe sends back for `'stats'`. */
export interface KitStats {
  memory: NodeJS.MemoryUsage;
  pools?: PoolRegistryStats;
}

let app: INestApplication | undefined;
const factory = NestFactory as unknown as { create(...args: unknown[]): Promise<INestApplication> };
const create = factory.create.bind(factory);
factory.create = async (...args: unknown[]) => (app = await create(...args));

// The channel must not keep the service alive once it is asked to stop.
process.channel?.unref();
process.on('message', (message) => {
  if (message !== 'stats') return;
  (globalThis as { gc?: () => void }).gc?.();
  const stats: KitStats = { memory: process.memoryUsage(), pools: app?.get(PoolRegistry, { strict: false }).stats() };
  process.send?.(stats);
});
