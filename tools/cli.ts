// The `diception` command line. Each subcommand lives in its own module under tools/.
import { Command } from 'commander';
import '../src/runtime/node.ts';
import { bench } from '../bench/run.ts';
import { doctor } from './doctor.ts';

const program = new Command();
program.name('diception').description('DICEPTION perception models on WebGPU').showHelpAfterError();

program
  .command('doctor')
  .description('show the WebGPU adapter, its features and limits, and run a self-test kernel')
  .option('--json', 'print JSON')
  .action((o) => doctor(o));

program
  .command('bench')
  .description('time a kernel family (matmul, roofline) on this adapter')
  .argument('<family>')
  .option('--json', 'print one JSON object per line')
  .option('--quick', 'only the short runs')
  .option('--all', 'every variant on every shape (slow on CPU adapters)')
  .action((family, o) => bench(family, o));

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // One clear line, never a stack trace (DICEPTION_DEBUG=1 shows it).
  if (process.env.DICEPTION_DEBUG) console.error(e);
  console.error(`error: ${(e as Error).message}`);
  process.exitCode = 1;
}
