// Task/prompt mapping, COCO classes and the inference.py point convention, with their errors.
import { describe, expect, it } from 'vitest';
import { COCO_CLASSES, MAX_POINTS, parsePoints, parsePrompt, parseTask } from '../../src/model/tasks.ts';

describe('tasks', () => {
  it('maps each --task to the reference prompt', () => {
    expect(parseTask('depth').prompt).toBe('[[image2depth]]');
    expect(parseTask('Normal').prompt).toBe('[[image2normal]]');
    expect(parseTask('pose').prompt).toBe('[[image2pose]]');
    expect(parseTask('segmentation').prompt).toBe('[[image2segmentation]]');
    expect(parseTask('entity').prompt).toBe('[[image2entity]]');
    expect(parseTask('semantic:dining table')).toEqual({ name: 'semantic', prompt: '[[image2semantic]] dining table', cocoClass: 'dining table' });
    expect(parseTask('semantic:  Potted   Plant ').prompt).toBe('[[image2semantic]] potted plant');
  });

  it('parses raw prompts, including a semantic class', () => {
    expect(parsePrompt('[[image2depth]]').name).toBe('depth');
    expect(parsePrompt('[[image2semantic]] person').cocoClass).toBe('person');
  });

  it('has the 80 COCO 2017 classes', () => {
    expect(COCO_CLASSES.length).toBe(80);
    expect(new Set(COCO_CLASSES).size).toBe(80);
    for (const c of ['person', 'dining table', 'potted plant', 'tv', 'hair drier', 'toothbrush']) expect(COCO_CLASSES).toContain(c);
  });

  it('rejects unknown tasks, classes and prompts with the flag and the fix', () => {
    expect(() => parseTask('dept')).toThrow(/^--task: unknown task 'dept'; use one of depth, normal, pose, segmentation, semantic, entity/);
    expect(() => parseTask('semantic')).toThrow(/--task: semantic segmentation needs a COCO class, e.g. semantic:person/);
    expect(() => parseTask('semantic:dinning table')).toThrow(/--task: 'dinning table' is not a COCO class; did you mean 'dining table'\?/);
    expect(() => parseTask('semantic:spaceship')).toThrow(/'spaceship' is not a COCO class; use one of the 80 COCO class names/);
    expect(() => parseTask('depth:person')).toThrow(/task 'depth' takes no class/);
    expect(() => parsePrompt('[[image2depht]]')).toThrow(/^--prompt: unknown prompt/);
    expect(() => parsePrompt('depth')).toThrow(/^--prompt: unknown prompt 'depth'/);
    expect(() => parsePrompt('[[image2semantic]] unicorn', 'x.json sample 3 caption')).toThrow(/^x.json sample 3 caption: 'unicorn' is not a COCO class/);
  });
});

describe('parsePoints (inference.py: CLI "y,x" stored as slot [x, y])', () => {
  it('fills slots in order as (x, y) with label 1, the rest zero', () => {
    const p = parsePoints('0.3,0.5; 0.7,0.2');
    expect(p.count).toBe(2);
    expect([...p.coords]).toEqual([0.5, 0.3, 0.2, 0.7, 0, 0, 0, 0, 0, 0].map(Math.fround));
    expect([...p.labels]).toEqual([1, 1, 0, 0, 0]);
  });

  it(`accepts ${MAX_POINTS} points and the bounds 0 and 1`, () => {
    expect(parsePoints('0,0;1,1;0.5,0.5;0,1;1,0').count).toBe(5);
  });

  it('rejects too many, out-of-range and malformed points', () => {
    expect(() => parsePoints('0.1,0.1;0.1,0.1;0.1,0.1;0.1,0.1;0.1,0.1;0.1,0.1')).toThrow(/^--points: 6 points given, the model takes at most 5/);
    expect(() => parsePoints('0.5,1.2')).toThrow(/^--points: point 1 '0.5,1.2' is outside \[0,1\]/);
    expect(() => parsePoints('0.5,-0.1')).toThrow(/outside \[0,1\]/);
    expect(() => parsePoints('0.5')).toThrow(/^--points: point 1 '0.5' is malformed; write them as "y1,x1;y2,x2"/);
    expect(() => parsePoints('0.5,0.5;')).toThrow(/point 2 '' is malformed/);
    expect(() => parsePoints('a,b')).toThrow(/malformed/);
    expect(() => parsePoints('0.1,0.2,0.3')).toThrow(/malformed/);
    expect(() => parsePoints('0.1,')).toThrow(/malformed/);
  });
});
