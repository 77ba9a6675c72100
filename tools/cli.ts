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
import { registerInfer } from './infer.ts';
import { registerServe } from './serve-api/command.ts';
import { addKernelFlags } from './kernel-flags.ts';
import { loadPipeline } from './pipeline-loader.ts';
import { HOST_HELP, webCommand } from './web.ts';

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
  .option('--compare <family=candidates>', 'built-in variants and your .wgsl files side by side, e.g. matmul=tiled-4x4,./my_matmul.wgsl (a file may pick a variant: ./x.wgsl@naive)')
  .option('--shapes <set|shapes>', '--compare: transformer, vae, text, smoke, or explicit shapes (matmul MxKxN, attention TqxTkxHxD; comma-separated)', 'smoke')
  .option('--dtype <d>', '--compare: f32 or f16 inputs', 'f32')
  .option('--runs <n>', '--compare: timed runs per candidate and shape (median; at least 5)', '5')
  .option('--out <file>', 'write [header, ...rows] as JSON (date, adapter, load average)')
  .action((family, o) => {
    if (o.compare && family) throw new Error(`bench: give a family or --compare, not both`);
    if (!o.compare && !family) throw new Error('bench: name a family (e.g. matmul, roofline, peers) or give --compare family=candidates');
    return o.compare ? benchCompare(o) : bench(family, o);
  });

program
  .command('conformance <fixture-dir>')
  .description('compare every implemented module with the golden outputs in <fixture-dir>/golden')
  .option('--only <goldens>', 'comma-separated golden names')
  .option('--precision <p>', 'f32 or f16', 'f32')
  .option('--json', 'print JSON')
  .action((dir, o) => conformanceCommand(dir, o));

program
  .command('convert <in> <out>')
  .description('rewrite a PyTorch checkpoint (e.g. DICEPTION_v1.pth) as .safetensors, keeping names and dtypes')
  .action((i, o) => convert(i, o));

program
  .command('web')
  .description('build the browser page and serve it, on 127.0.0.1 unless --host (HTTP Range support for model files)')
  .option('--port <n>', 'port', '8080')
  .option('--host <addr>', HOST_HELP, '127.0.0.1')
  .option('--models <dir>', 'also serve this folder at /models/ (default: out/demo-model once `npm run demo` made it)')
  .action((o) => webCommand(o));

program
  .command('demo')
  .description('run the pipeline end to end on a generated tiny model and the bundled sample image')
  .option('--output_dir <dir>', 'output folder', 'outputs/demo')
  .action((o) => demo({ outputDir: o.output_dir }, loadPipeline));

program
  .command('embed-prompts')
  .description('precompute the prompt embeddings of every task prompt (and "") so inference skips the text encoders')
  .requiredOption('--sd3 <dir>', 'the stable-diffusion-3-medium-diffusers folder')
  .requiredOption('--out <file>', 'the prompt cache to write (.safetensors)')
  .option('--precision <p>', 'f16 or f32 (computation and storage)', 'f16')
  .option('--prompt <text...>', 'extra prompts to include')
  .action((o) => embedPromptsCommand(o));

registerInfer(program, loadPipeline);
registerBatch(program, loadPipeline);
registerBatchMerge(program);
registerServe(program, loadPipeline);
registerEvaluate(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // One clear line, never a stack trace (DICEPTION_DEBUG=1 shows it).
  if (process.env.DICEPTION_DEBUG) console.error(e);
  console.error(`error: ${(e as Error).message}`);
  process.exitCode = 1;
}
