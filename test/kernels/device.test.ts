import { expect, it } from 'vitest';
import { device } from '../helpers.ts';

it('finds an adapter with usable limits and reports its capabilities', async () => {
  const gpu = await device();
  const c = gpu.caps;
  console.log(`adapter: ${c.adapterName}; f16 ${c.f16}; subgroups ${c.subgroups} (${c.subgroupMinSize}..${c.subgroupMaxSize}); binding ${c.maxStorageBinding >> 20} MiB`);
  expect(c.maxStorageBinding).toBeGreaterThanOrEqual(128 * 2 ** 20);
  expect(c.maxInvocations).toBeGreaterThanOrEqual(256);
  expect(c.minStorageOffsetAlignment).toBeLessThanOrEqual(256);
});

it('simulates a smaller binding limit and a missing shader-f16 on request', async () => {
  const gpu = await device({ maxStorageBinding: 1 << 20, disableF16: true });
  expect(gpu.caps.maxStorageBinding).toBe(1 << 20);
  expect(gpu.caps.f16).toBe(false);
});
