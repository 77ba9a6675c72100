// CLIP-L, CLIP-G, T5 and SD3's prompt assembly against the upstream goldens of the tiny
// fixture (tiny/golden/text_encoders.safetensors), f16 path, through the conformance runner.
import { describeTextGoldens } from './text-goldens.ts';

describeTextGoldens('f16', 'f16');
