// `diception doctor`: what WebGPU adapter this machine has, and whether kernels run on it.
import { add } from '../src/kernels/elementwise.ts';
import { getDevice } from '../src/runtime/device.ts';
import { fromArray } from '../src/runtime/tensor.ts';
import { Q8_GROUP, Q8_SCHEME, Q8_WHAT } from '../src/model/q8-weights.ts';

export async function doctor(o: { json?: boolean }): Promise<void> {
  const gpu = await getDevice();
  const a = Float32Array.from({ length: 1000 }, (_, i) => i);
  const t0 = performance.now();
  const sum = await (await add(gpu, fromArray(gpu, a, [1000]), fromArray(gpu, a, [1000]))).read();
  const ms = performance.now() - t0;
  const ok = sum.every((v, i) => v === 2 * i);
  const features = [...gpu.device.features].sort();
  const unpack = gpu.caps.packed4x8 ? 'unpack4xI8' : 'shifts (no packed_4x8_integer_dot_product)';
  const weights = { default: 'f16', q8: { scheme: Q8_SCHEME, group: Q8_GROUP, stores: Q8_WHAT, unpack } };
  const report = { adapter: gpu.caps, features, weights, selfTest: { ok, ms: +ms.toFixed(2) } };
  if (o.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    const c = gpu.caps;
    console.log(`adapter      ${c.adapterName} (${c.vendor}${c.architecture ? ', ' + c.architecture : ''})${c.isFallback ? ' [fallback]' : ''}`);
    console.log(`features     ${features.join(', ')}`);
    console.log(`shader-f16   ${c.f16 ? 'yes' : 'no (f16 weights are unpacked in f32 shaders)'}`);
    console.log(`subgroups    ${c.subgroups ? `yes (size ${c.subgroupMinSize}..${c.subgroupMaxSize})` : 'no'}`);
    console.log(`timestamps   ${c.timestamps ? 'yes' : 'no'}`);
    console.log(`binding max  ${(c.maxStorageBinding / 2 ** 20).toFixed(0)} MiB   buffer max ${(c.maxBufferSize / 2 ** 20).toFixed(0)} MiB`);
    console.log(`workgroup    ${c.maxInvocations} invocations, ${c.maxWorkgroupStorage / 1024} KiB shared memory`);
    console.log(`weights      f16 by default; --weights q8 stores ${Q8_WHAT} (unpacked with ${unpack})`);
    console.log(`self-test    ${ok ? 'PASS' : 'FAIL'} (elementwise add of 1000 values, ${ms.toFixed(1)} ms)`);
  }
  if (!ok) process.exitCode = 1;
}
