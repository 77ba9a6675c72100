// WGSL specialisation and the pipeline cache.
//
// A kernel's WGSL file holds only its compute code. The runtime prepends what depends on the
// call: `enable` lines, the storage bindings in the order the kernel wrapper lists them, and
// typed accessors so one source serves f32, f16 (shader-f16) and packed-f16 storage:
//   <name>_load(i) -> f32          element i
//   <name>_load4(j) -> vec4<f32>   elements 4j..4j+3 (bindings declared with vec: 4)
//   <name>_store(i, v: f32) / <name>_store4(j, v: vec4<f32>)   (read_write bindings)
// Integer data (token ids) binds as dtype 'u32': `<name>_load(i) -> u32` (and `_store`); read-only
// u32 with vec: 4 adds `<name>_load4(j) -> vec4<u32>` (words 4j..4j+3).
// plus `var<uniform> params: Params` when the kernel has uniforms (Params is declared in the
// .wgsl file). Preprocessor: `#if NAME` / `#if !NAME` / `#else` / `#endif` on their own lines
// and `{{NAME}}` substitution, both from the kernel's `defines`. Line numbers are preserved,
// so compiler messages point at the .wgsl file's own lines.
import type { Gpu } from './device.ts';
import type { DType } from './tensor.ts';

export interface BindingSpec {
  name: string;
  /** 'u32': raw integers (bound as a GPUBufferBinding, not a Tensor). */
  dtype: DType | 'u32';
  access?: 'read' | 'read_write';
  /** 4: declare as an array of 4-vectors (the bound size must be a multiple of 4 elements). */
  vec?: 1 | 4;
  /** u32 read_write only: declare as array<atomic<u32>> (no accessors; the kernel uses atomic*()). */
  atomic?: boolean;
}

export interface KernelSpec {
  /** Shader file name without extension (shown in errors), e.g. 'matmul'. */
  name: string;
  /** WGSL source text (from `shaders/<name>.wgsl`, or a user's override file). */
  source: string;
  /** Where the source came from, for error messages (default `shaders/<name>.wgsl`). */
  file?: string;
  bindings: BindingSpec[];
  uniforms?: boolean;
  defines?: Record<string, string | number | boolean>;
  entryPoint?: string;
}

export interface Kernel {
  readonly spec: KernelSpec;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  readonly label: string;
}

export function preprocess(src: string, defines: Record<string, string | number | boolean> = {}, file = 'shader'): string {
  const lines = src.split('\n');
  const out: string[] = [];
  const stack: { active: boolean; taken: boolean }[] = [];
  const active = () => stack.every((s) => s.active);
  lines.forEach((line, i) => {
    const m = /^\s*#(if|else|endif)\b\s*(!?)\s*(\w*)/.exec(line);
    if (m) {
      if (m[1] === 'if') {
        const v = defines[m[3]];
        const truthy = v !== undefined && v !== false && v !== 0 && v !== '0';
        const cond = m[2] === '!' ? !truthy : truthy;
        stack.push({ active: cond, taken: cond });
      } else if (m[1] === 'else') {
        const top = stack[stack.length - 1];
        if (!top) throw new Error(`${file}:${i + 1}: #else without #if`);
        top.active = !top.taken;
      } else {
        if (!stack.pop()) throw new Error(`${file}:${i + 1}: #endif without #if`);
      }
      out.push('');
      return;
    }
    if (!active()) {
      out.push('');
      return;
    }
    out.push(
      line.replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
        if (!(k in defines)) throw new Error(`${file}:${i + 1}: {{${k}}} has no value`);
        const v = String(defines[k]);
        // A value spanning lines would shift every line after it, and compiler messages with them.
        if (v.includes('\n')) throw new Error(`${file}:${i + 1}: the value of {{${k}}} spans lines; give it on one line`);
        return v;
      }),
    );
  });
  if (stack.length) throw new Error(`${file}: #if without #endif`);
  return out.join('\n');
}

function storageType(b: BindingSpec, f16: boolean): { elem: string; load: string; load4: string; store?: string; store4?: string } {
  const v4 = b.vec === 4;
  const n = b.name;
  if (b.dtype === 'u32') {
    if (b.atomic) return { elem: 'atomic<u32>', load: '', load4: '', store: '' };
    if (v4) {
      if (b.access === 'read_write') throw new Error(`binding '${n}': u32 vec4 bindings are read-only`);
      return { elem: 'vec4<u32>', load: `return ${n}[i >> 2u][i & 3u];`, load4: `return ${n}[j];` };
    }
    return { elem: 'u32', load: `return ${n}[i];`, load4: '', store: `${n}[i] = v;`, store4: '' };
  }
  if (b.dtype === 'f32') {
    return v4
      ? {
          elem: 'vec4<f32>',
          load: `return ${n}[i >> 2u][i & 3u];`,
          load4: `return ${n}[j];`,
          store: `${n}[i >> 2u][i & 3u] = v;`,
          store4: `${n}[j] = v;`,
        }
      : {
          elem: 'f32',
          load: `return ${n}[i];`,
          load4: `let i = 4u * j; return vec4<f32>(${n}[i], ${n}[i + 1u], ${n}[i + 2u], ${n}[i + 3u]);`,
          store: `${n}[i] = v;`,
          store4: `let i = 4u * j; ${n}[i] = v.x; ${n}[i + 1u] = v.y; ${n}[i + 2u] = v.z; ${n}[i + 3u] = v.w;`,
        };
  }
  if (f16) {
    return v4
      ? {
          elem: 'vec4<f16>',
          load: `return f32(${n}[i >> 2u][i & 3u]);`,
          load4: `return vec4<f32>(${n}[j]);`,
          store: `${n}[i >> 2u][i & 3u] = f16(v);`,
          store4: `${n}[j] = vec4<f16>(v);`,
        }
      : {
          elem: 'f16',
          load: `return f32(${n}[i]);`,
          load4: `let i = 4u * j; return vec4<f32>(f32(${n}[i]), f32(${n}[i + 1u]), f32(${n}[i + 2u]), f32(${n}[i + 3u]));`,
          store: `${n}[i] = f16(v);`,
          store4: `let i = 4u * j; ${n}[i] = f16(v.x); ${n}[i + 1u] = f16(v.y); ${n}[i + 2u] = f16(v.z); ${n}[i + 3u] = f16(v.w);`,
        };
  }
  // Packed halves, two per u32: read-only (a lone half cannot be written without racing its twin).
  return v4
    ? {
        elem: 'vec2<u32>',
        load: `let p = unpack2x16float(${n}[i >> 2u][(i >> 1u) & 1u]); return select(p.x, p.y, (i & 1u) == 1u);`,
        load4: `let w = ${n}[j]; return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y));`,
      }
    : {
        elem: 'u32',
        load: `let p = unpack2x16float(${n}[i >> 1u]); return select(p.x, p.y, (i & 1u) == 1u);`,
        load4: `let i = 2u * j; return vec4<f32>(unpack2x16float(${n}[i]), unpack2x16float(${n}[i + 1u]));`,
      };
}

/** The generated declarations placed before a kernel's source. */
export function prelude(spec: KernelSpec, f16: boolean): string {
  const lines: string[] = [];
  const usesF16 = f16 && (spec.bindings.some((b) => b.dtype === 'f16') || Boolean(spec.defines?.F16_MATH));
  if (usesF16) lines.push('enable f16;');
  if (spec.defines?.SUBGROUPS) lines.push('enable subgroups;');
  if (spec.defines?.SUBGROUP_MATRIX) lines.push('enable chromium_experimental_subgroup_matrix;');
  spec.bindings.forEach((b, i) => {
    const rw = b.access === 'read_write';
    const t = storageType(b, f16);
    if (b.atomic && !rw) throw new Error(`${spec.name}: atomic binding '${b.name}' must be read_write`);
    if (rw && t.store === undefined) {
      throw new Error(`${spec.name}: binding '${b.name}' is f16 and written, but this adapter lacks shader-f16 (write f32 instead)`);
    }
    lines.push(`@group(0) @binding(${i}) var<storage, ${rw ? 'read_write' : 'read'}> ${b.name}: array<${t.elem}>;`);
    if (b.atomic) return;
    if (b.dtype === 'u32') {
      lines.push(`fn ${b.name}_load(i: u32) -> u32 { ${t.load} }`);
      if (b.vec === 4) lines.push(`fn ${b.name}_load4(j: u32) -> vec4<u32> { ${t.load4} }`);
      if (rw) lines.push(`fn ${b.name}_store(i: u32, v: u32) { ${t.store} }`);
      return;
    }
    lines.push(`fn ${b.name}_load(i: u32) -> f32 { ${t.load} }`);
    lines.push(`fn ${b.name}_load4(j: u32) -> vec4<f32> { ${t.load4} }`);
    if (rw) {
      lines.push(`fn ${b.name}_store(i: u32, v: f32) { ${t.store} }`);
      lines.push(`fn ${b.name}_store4(j: u32, v: vec4<f32>) { ${t.store4} }`);
    }
  });
  if (spec.uniforms) lines.push(`@group(0) @binding(${spec.bindings.length}) var<uniform> params: Params;`);
  return lines.join('\n') + '\n';
}

export class PipelineCache {
  /** Kernels by everything but the source, then by source: every dispatch looks its kernel up,
   * and comparing a source with the one cached (usually the same string) is cheaper than hashing it. */
  private cache = new Map<string, { source: string; kernel: Promise<Kernel> }[]>();
  constructor(private readonly gpu: Gpu) {}

  /** Compiles (once per distinct spec) and returns the pipeline. */
  get(spec: KernelSpec): Promise<Kernel> {
    const key = JSON.stringify([spec.name, spec.file, spec.bindings, spec.uniforms, spec.defines, spec.entryPoint]);
    let bucket = this.cache.get(key);
    if (!bucket) this.cache.set(key, (bucket = []));
    const hit = bucket.find((e) => e.source === spec.source);
    if (hit) return hit.kernel;
    const entry = { source: spec.source, kernel: this.compile(spec) };
    bucket.push(entry);
    entry.kernel.catch(() => bucket.splice(bucket.indexOf(entry), 1));
    return entry.kernel;
  }

  private async compile(spec: KernelSpec): Promise<Kernel> {
    const { device, caps } = this.gpu;
    const file = spec.file ?? `shaders/${spec.name}.wgsl`;
    const head = prelude(spec, caps.f16);
    const headLines = head.split('\n').length - 1;
    const code = head + preprocess(spec.source, spec.defines, file);
    const label = spec.name + (spec.defines ? ' ' + Object.entries(spec.defines).map(([k, v]) => `${k}=${v}`).join(',') : '');
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code, label });
    const info = await module.getCompilationInfo();
    const scopeErr = await device.popErrorScope();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length || scopeErr) {
      const where = (m: GPUCompilationMessage) =>
        m.lineNum > headLines ? `${file}:${m.lineNum - headLines}:${m.linePos}` : `${file} (generated bindings, line ${m.lineNum})`;
      const msg = errors.length ? errors.map((m) => `${where(m)}: ${m.message}`).join('\n') : scopeErr!.message;
      throw new Error(`WGSL compile error in ${label}:\n${msg}`);
    }
    const entries: GPUBindGroupLayoutEntry[] = spec.bindings.map((b, i) => ({
      binding: i,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: b.access === 'read_write' ? 'storage' : 'read-only-storage' },
    }));
    // Dynamic offset: the recorder's uniform arena is bound once and each dispatch picks its slot.
    if (spec.uniforms) entries.push({ binding: spec.bindings.length, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true } });
    const layout = device.createBindGroupLayout({ entries, label });
    device.pushErrorScope('validation');
    let pipeline: GPUComputePipeline;
    try {
      pipeline = await this.gpu.settle(
        device.createComputePipelineAsync({
          label,
          layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
          compute: { module, entryPoint: spec.entryPoint ?? 'main' },
        }),
      );
    } catch (e) {
      await device.popErrorScope();
      throw new Error(`${file}: pipeline creation failed for ${label} (does the shader match the bindings contract in shaders/README.md?): ${(e as Error).message}`);
    }
    const err = await device.popErrorScope();
    if (err) throw new Error(`${file}: pipeline creation failed for ${label} (does the shader match the bindings contract in shaders/README.md?): ${err.message}`);
    return { spec, pipeline, layout, label };
  }
}
