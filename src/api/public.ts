// What both entries export besides loadDiception: the error classes and the public types.
export {
  AbortError, DiceptionError, DisposedError, GpuError, ImageDecodeError, InvalidArgumentError, ModelFilesError, NonFiniteError, WebGPUUnavailableError, type DiceptionErrorCode,
} from './errors.ts';
export type { DiceptionModel, ImageInput, LoadOptions, ModelSource, PredictOptions, PredictResult, Precision, RgbPixels, ProgressFn, RgbImage, StageTiming, TaskSpec, WeightFormat } from './model.ts';
export type { Prediction } from '../model/postprocess.ts';
export type { EntityInstance, TaskMasks } from '../model/masks.ts';
export type { Mask } from '../model/sa1b.ts';
export type { RleString } from '../model/rle.ts';
export type { Capabilities } from '../runtime/device.ts';
