// TEST ENTRY: `diception serve` as a process, with the fake pipeline (each run takes
// FAKE_DELAY_MS), so signal handling is tested on the real command without a model.
import { Command } from 'commander';
import '../../src/runtime/node.ts';
import { registerServe } from '../../tools/serve-api/command.ts';
import { fakePipeline } from '../cli/fake-pipeline.ts';

const program = new Command();
registerServe(program, fakePipeline({ delayMs: Number(process.env.FAKE_DELAY_MS ?? 0) }).factory);
await program.parseAsync(process.argv);
