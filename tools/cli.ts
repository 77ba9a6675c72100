// The `diception` command line. Each subcommand lives in its own module under tools/.
import { Command } from 'commander';
import '../src/runtime/node.ts';
import { bench } from '../bench/run.ts';
import { benchCompare } from './bench-compare.ts';
import { registerBatch } from './batch.ts';
import { registerBatchMerge } from './batch-merge.ts';
import { conformanceCommand } from './conformance/index.ts';
import { demo } from './demo.ts';
import { convert } from './convert.ts';
import { doctor } from './doctor.ts';
import { embedPromptsCommand } from './embed-prompts.ts';
import { registerEvaluate } from './evaluate.ts';
import { registerFuzz } from './fuzz.ts';
import { registerInfer } from './infer.ts';
import { registerServe } from './serve-api/command.ts';
import { addKernelFlags } from './kernel-flags.ts';
import { kernelsCommand } from './kernels.ts';
import { loadPipeline } from './pipeline-loader.ts';
import { tuneCommand } from './tune.ts';

const program = new Command();
program.name('diception').description('DICEPTION perception models on WebGPU').showHelpAfterError();
addKernelFlags(program);

program
  .command('doctor')
  .description('show the WebGPU adapter, its features and limits, and run a self-test kernel')
  .option('--json', 'print JSON')
  .action((o) => doctor(o));

program
  .command('bench')
  .description('time families on this adapter (roofline, matmul, peers vs tfjs-webgpu and numpy, ops, attention, vae, mmdit, pipeline), or compare kernel candidates (--compare)')
  .argument('[families]', 'one family or a comma-separated list, run in one process')
  .option('--json', 'print one JSON object per line')
  .option('--quick', 'only the short runs')
  .option('--all', 'every variant on every shape (slow on CPU adapters)')
  .option('--full', 'attention: the real DICEPTION shapes; vae: encode+decode executed at 768²; mmdit: the 768² latent (minutes on a CPU adapter)')
  .option('--shape <MxNxK>', 'matmul: this shape instead of the model shapes')
  .option('--profile', "mmdit: also split a block's time into linears, attention, norms and elementwise (per-kernel timing of a second forward)")
  .option('--compare <family=candidates>', 'built-in variants and your .wgsl files side by side, e.g. matmul=tiled-4x4,./my_matmul.wgsl (a file may pick a variant: ./x.wgsl@naive)')
  .option('--shapes <set|shapes>', '--compare: transformer, vae, text, smoke, demo (conv2d: the demo model VAE), or explicit shapes (matmul MxKxN, attention TqxTkxHxD; comma-separated)', 'smoke')
  .option('--dtype <d>', '--compare: f32 or f16 inputs', 'f32')
  .option('--runs <n>', '--compare: interleaved timing rounds per shape (samples per candidate; fewer than 6 count as 6)', '10')
  .option('--budget-s <s>', '--compare: seconds of timing in all (rounds go on until spent, instead of --runs)')
  .option('--control', '--compare: add a copy of the first candidate; flags the run as too noisy if it is not judged the same')
  .option('--out <file>', 'write [header, ...rows] as JSON (date, adapter, load average)')
  .option('--weights <w>', "memory: f16 or q8 (the transformer's block linears in int8)", 'f16')
  .action((family, o) => {
    if (o.compare && family) throw new Error(`bench: give a family or --compare, not both`);
    if (!o.compare && !family) throw new Error('bench: name a family (e.g. matmul, roofline, peers) or give --compare family=candidates');
    return o.compare ? benchCompare(o) : bench(family, o);
  });

program
  .command('kernels')
  .description('list every kernel variant: the features it needs, workgroup memory, subgroups, subgroup matrices, and whether this adapter runs it')
  .option('--json', 'print JSON')
  .action((o) => kernelsCommand(o));

program
  .command('tune')
  .description("autotune the kernel variants at the model's shapes on this adapter and cache the choices ($DICEPTION_CACHE_DIR, else ~/.cache/diception)")
  .option('--shapes <sets>', 'shape sets (transformer, vae, text, smoke), comma-separated', 'transformer,vae,text')
  .option('--families <list>', 'families to tune, comma-separated (default: every registered family)')
  .option('--dtype <list>', 'f32, f16 or f32,f16 (default: both where the adapter has shader-f16)')
  .option('--json', 'print JSON')
  .action((o) => tuneCommand(o));

program
  .command('conformance <fixture-dir>')
  .description('compare every implemented module with the golden outputs in <fixture-dir>/golden')
  .option('--only <goldens>', 'comma-separated golden names')
  .option('--precision <p>', 'f32 or f16', 'f32')
  .option('--weights <w>', "f16 or q8 (the transformer's block linears in int8, judged by wider per-output bounds)", 'f16')
  .option('--json', 'print JSON')
  .action((dir, o) => conformanceCommand(dir, o));

program
  .command('convert <in> <out>')
  .description('rewrite a PyTorch checkpoint (e.g. DICEPTION_v1.pth) as .safetensors, keeping names and dtypes')
  .option('--weights <w>', "f16 (as stored) or q8: the transformer's block linears as int8 + f16 scales, loaded without re-quantising", 'f16')
  .action((i, out, o) => convert(i, out, o));

// What --host exposes, said where the flag is offered.
const HOST_HELP =
  'listen on this address instead of 127.0.0.1; 0.0.0.0 or a network address lets anyone who can reach this machine read the page and every file under --models, with no authentication';

program
  .command('web')
  .description('build the browser page and serve it, on 127.0.0.1 unless --host (HTTP Range support for model files)')
  .option('--port <n>', 'port', '8080')
  .option('--host <addr>', HOST_HELP, '127.0.0.1')
  .option('--models <dir>', 'also serve this folder at /models/ (default: out/demo-model once `npm run demo` made it)')
  // Lazy: it needs esbuild, which only a checkout has.
  .action(async (o) => (await import('./web.ts')).webCommand(o));

program
  .command('demo')
  .description('run the pipeline end to end on a generated tiny model and the bundled sample image')
  .option('--output_dir <dir>', 'output folder', 'outputs/demo')
  .option('--weights <w>', 'f16 or q8 (the transformer\'s block linears in int8)', 'f16')
  .action((o) => demo({ outputDir: o.output_dir, weights: o.weights }, loadPipeline));

program
  .command('embed-prompts')
  .description('precompute the prompt embeddings of every task prompt (and "") so inference skips the text encoders')
  .requiredOption('--sd3 <dir>', 'the stable-diffusion-3-medium-diffusers folder')
  .requiredOption('--out <file>', 'the prompt cache to write (.safetensors)')
  .option('--precision <p>', 'f16 or f32 (computation and storage)', 'f16')
  .option('--prompt <text...>', 'extra prompts to include')
  .action((o) => embedPromptsCommand(o));

program
  .command('gpu-report <step>')
  .description('one step of the GPU pack\'s report (tools/gpu-pack/run.sh drives it): plan, start, or a section')
  .option('--report <file>', 'the gpu-report.json to update')
  .option('--quick', 'small shapes (CPU adapters, CI)')
  .option('--pack <dir>', 'start: the pack folder (its pack-info.json goes into the report)')
  .option('--fixtures <dir>', 'the tiny fixtures (conformance)')
  .option('--torch-script <file>', 'the PyTorch comparison script')
  .option('--seconds <n>', 'the time the section may take')
  .option('--ended <rc>', 'record the section as crashed or timed out if its process (exit status rc) never finished it')
  .action(async (step, o) => (await import('./gpu-pack/report.ts')).gpuReport(step, o));

registerInfer(program, loadPipeline);
registerBatch(program, loadPipeline);
registerBatchMerge(program);
registerServe(program, loadPipeline);
registerEvaluate(program);
registerFuzz(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // One clear line, never a stack trace (DICEPTION_DEBUG=1 shows it).
  if (process.env.DICEPTION_DEBUG) console.error(e);
  console.error(`error: ${(e as Error).message}`);
  process.exitCode = 1;
}
