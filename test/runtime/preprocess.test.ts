// The WGSL preprocessor keeps the .wgsl file's line numbers (compiler messages point at them).
import { describe, expect, it } from 'vitest';
import { preprocess } from '../../src/runtime/shader.ts';

describe('preprocess', () => {
  const src = ['a', '#if X', 'b {{V}}', '#else', 'c', '#endif', 'd'].join('\n');

  it('keeps one output line per source line, blanking directives and inactive lines', () => {
    expect(preprocess(src, { X: true, V: 'v' }, 'k.wgsl').split('\n')).toEqual(['a', '', 'b v', '', '', '', 'd']);
    expect(preprocess(src, { X: false }, 'k.wgsl').split('\n')).toEqual(['a', '', '', '', 'c', '', 'd']);
  });

  it('refuses a missing value and a value spanning lines, naming the file and line', () => {
    expect(() => preprocess(src, { X: true }, 'k.wgsl')).toThrow('k.wgsl:3: {{V}} has no value');
    expect(() => preprocess(src, { X: true, V: 'one;\ntwo;' }, 'k.wgsl')).toThrow('k.wgsl:3: the value of {{V}} spans lines; give it on one line');
  });
});
