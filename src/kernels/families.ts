// Imports every kernel family that registers variants, so that the registry knows them all
// before user options (--kernel, configureKernels) name one.
import './matmul.ts';
import './attention.ts';
import './conv2d.ts';
import './groupnorm.ts';
import './norms.ts';
import './elementwise.ts';
import './softmax.ts';
import './layout.ts';
import './embedding.ts';
import './finite.ts';
