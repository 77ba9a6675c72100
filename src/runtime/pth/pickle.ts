// A restricted pickle interpreter: it builds plain data (numbers, strings, tuples, lists, dicts)
// and calls ONLY the globals its caller allowlists, so a checkpoint can never run code. It
// implements the opcodes that torch.save (protocols 2-4) emits; anything else is refused with
// its name and byte position. Sizes are bounded so a hostile pickle cannot exhaust memory.

/** A Python value as this interpreter represents it. Tuples are frozen arrays, lists mutable ones. */
export type PyValue = null | boolean | number | string | PyValue[] | PyDict | PyGlobal | object;
export type PyDict = Map<PyValue, PyValue>;

/** An allowlisted global. Without `call` it can only be passed around (e.g. a storage type). */
export interface PyGlobal {
  readonly kind: 'global';
  readonly module: string;
  readonly name: string;
  call?(args: readonly PyValue[]): PyValue;
}

export interface UnpickleOptions {
  /** Shown in error messages (e.g. 'model.pth: archive/data.pkl'). */
  name: string;
  /** The allowlist: returns the global for `module.name`, or undefined to refuse it. */
  resolveGlobal(module: string, name: string): PyGlobal | undefined;
  /** Turns a BINPERSID id into a value (torch: a storage reference). */
  persistentLoad(pid: PyValue): PyValue;
}

export const LIMITS = {
  /** Values on the stack at once. */
  stack: 1 << 20,
  /** Open MARKs at once (nesting of tuples/lists/dicts being built). */
  marks: 1000,
  /** Memo entries. */
  memo: 1 << 20,
};

export function isGlobal(v: PyValue): v is PyGlobal {
  return typeof v === 'object' && v !== null && (v as PyGlobal).kind === 'global';
}

export function isTuple(v: PyValue): v is readonly PyValue[] {
  return Array.isArray(v) && Object.isFrozen(v);
}

/** Short description of a value for error messages. */
export function describe(v: PyValue): string {
  if (v === null) return 'None';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (typeof v !== 'object') return String(v);
  if (isGlobal(v)) return `${v.module}.${v.name}`;
  if (Array.isArray(v)) return `${isTuple(v) ? 'tuple' : 'list'} of ${v.length}`;
  if (v instanceof Map) return `dict of ${v.size}`;
  return v.constructor?.name ?? 'object';
}

const tuple = (items: PyValue[]): PyValue[] => Object.freeze(items) as PyValue[];

export function unpickle(bytes: Uint8Array, o: UnpickleOptions): PyValue {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const stack: PyValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  let pos = 0;
  let opPos = 0;
  let opName = '';

  const fail = (what: string): never => {
    throw new Error(`${o.name}: pickle ${opName ? opName + ' ' : ''}at byte ${opPos}: ${what}`);
  };
  const need = (n: number) => {
    if (pos + n > bytes.length) fail(`needs ${n} more bytes but the pickle ends at byte ${bytes.length} (truncated)`);
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), (pos += 2), dv.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), dv.getUint32(pos - 4, true));
  const i32 = () => (need(4), (pos += 4), dv.getInt32(pos - 4, true));
  const u64 = () => {
    need(8);
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(bytes.length)) fail(`length ${v} exceeds the pickle's size`);
    return Number(v);
  };
  const str = (n: number) => {
    need(n);
    try {
      return utf8.decode(bytes.subarray(pos, (pos += n)));
    } catch {
      return fail('string is not valid UTF-8');
    }
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('unterminated line');
    const s = new TextDecoder('latin1').decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const push = (v: PyValue) => {
    if (stack.length >= LIMITS.stack) fail(`more than ${LIMITS.stack} values on the stack`);
    stack.push(v);
  };
  const pop = (): PyValue => {
    if (stack.length <= (marks.length ? marks[marks.length - 1] : 0)) fail('stack underflow (malformed pickle)');
    return stack.pop()!;
  };
  const top = (): PyValue => {
    if (stack.length <= (marks.length ? marks[marks.length - 1] : 0)) fail('stack underflow (malformed pickle)');
    return stack[stack.length - 1];
  };
  const popMark = (): PyValue[] => {
    if (!marks.length) fail('no MARK to pop to (malformed pickle)');
    return stack.splice(marks.pop()!);
  };
  const memoize = (key: number) => {
    if (!memo.has(key) && memo.size >= LIMITS.memo) fail(`more than ${LIMITS.memo} memo entries`);
    memo.set(key, top());
  };
  const recall = (key: number) => {
    if (!memo.has(key)) fail(`memo key ${key} was never stored`);
    push(memo.get(key)!);
  };
  const global = (module: string, name: string) => {
    const g = o.resolveGlobal(module, name);
    if (!g) fail(`refused global '${module}.${name}': only the classes and functions torch.save uses are allowed (no code from a checkpoint is run)`);
    push(g!);
  };
  const dictOf = (v: PyValue, op: string): PyDict => {
    if (!(v instanceof Map)) fail(`${op} on ${describe(v)}, expected a dict`);
    return v as PyDict;
  };
  const listOf = (v: PyValue, op: string): PyValue[] => {
    if (!Array.isArray(v) || isTuple(v)) fail(`${op} on ${describe(v)}, expected a list`);
    return v as PyValue[];
  };
  const setItems = (d: PyDict, kv: PyValue[]) => {
    if (kv.length % 2) fail('odd number of items for a dict');
    for (let i = 0; i < kv.length; i += 2) {
      const k = kv[i];
      if (typeof k === 'object' && k !== null) fail(`unhashable dict key ${describe(k)}`);
      d.set(k, kv[i + 1]);
    }
  };

  for (;;) {
    opPos = pos;
    opName = '';
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        opName = 'PROTO';
        if (u8() > 5) fail(`unsupported pickle protocol ${bytes[pos - 1]}`);
        break;
      case 0x95: // FRAME: a length hint for buffered readers; we hold the whole pickle
        opName = 'FRAME';
        u64();
        break;
      case 0x7d: // '}' EMPTY_DICT
        push(new Map());
        break;
      case 0x29: // ')' EMPTY_TUPLE
        push(tuple([]));
        break;
      case 0x5d: // ']' EMPTY_LIST
        push([]);
        break;
      case 0x28: // '(' MARK
        if (marks.length >= LIMITS.marks) fail(`more than ${LIMITS.marks} nested MARKs`);
        marks.push(stack.length);
        break;
      case 0x58: // 'X' BINUNICODE
        opName = 'BINUNICODE';
        push(str(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        opName = 'SHORT_BINUNICODE';
        push(str(u8()));
        break;
      case 0x8d: // BINUNICODE8
        opName = 'BINUNICODE8';
        push(str(u64()));
        break;
      case 0x4a: // 'J' BININT
        push(i32());
        break;
      case 0x4b: // 'K' BININT1
        push(u8());
        break;
      case 0x4d: // 'M' BININT2
        push(u16());
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement of n bytes
        opName = 'LONG1';
        const n = u8();
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[pos + i]);
        if (n && bytes[pos + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        pos += n;
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) fail(`integer ${v} is too large`);
        push(Number(v));
        break;
      }
      case 0x47: // 'G' BINFLOAT (big-endian double)
        need(8);
        push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4e: // 'N' NONE
        push(null);
        break;
      case 0x74: // 't' TUPLE
        opName = 'TUPLE';
        push(tuple(popMark()));
        break;
      case 0x85: // TUPLE1
        opName = 'TUPLE1';
        push(tuple([pop()]));
        break;
      case 0x86: {
        opName = 'TUPLE2';
        const b = pop();
        push(tuple([pop(), b]));
        break;
      }
      case 0x87: {
        opName = 'TUPLE3';
        const c = pop();
        const b = pop();
        push(tuple([pop(), b, c]));
        break;
      }
      case 0x63: {
        // 'c' GLOBAL: "module\nname\n"
        opName = 'GLOBAL';
        const module = line();
        global(module, line());
        break;
      }
      case 0x93: {
        opName = 'STACK_GLOBAL';
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('module and name must be strings');
        global(module as string, name as string);
        break;
      }
      case 0x52: {
        // 'R' REDUCE: callable(*args)
        opName = 'REDUCE';
        const args = pop();
        const fn = pop();
        if (!isGlobal(fn) || !fn.call) fail(`refused to call ${describe(fn)}: not an allowlisted callable`);
        if (!isTuple(args)) fail(`arguments to ${describe(fn)} are ${describe(args)}, expected a tuple`);
        push((fn as PyGlobal).call!(args as PyValue[]));
        break;
      }
      case 0x62: {
        // 'b' BUILD: sets an object's state. Only dicts (OrderedDict's `_metadata`) are
        // accepted, and their state is dropped: it holds version numbers, never tensors.
        opName = 'BUILD';
        const state = pop();
        const obj = top();
        if (!(obj instanceof Map)) fail(`refused to set the state of ${describe(obj)} (${describe(state)})`);
        break;
      }
      case 0x51: // 'Q' BINPERSID
        opName = 'BINPERSID';
        push(o.persistentLoad(pop()));
        break;
      case 0x71: // 'q' BINPUT
        opName = 'BINPUT';
        memoize(u8());
        break;
      case 0x72: // 'r' LONG_BINPUT
        opName = 'LONG_BINPUT';
        memoize(u32());
        break;
      case 0x94: // MEMOIZE
        opName = 'MEMOIZE';
        memoize(memo.size);
        break;
      case 0x68: // 'h' BINGET
        opName = 'BINGET';
        recall(u8());
        break;
      case 0x6a: // 'j' LONG_BINGET
        opName = 'LONG_BINGET';
        recall(u32());
        break;
      case 0x73: {
        // 's' SETITEM
        opName = 'SETITEM';
        const v = pop();
        const k = pop();
        setItems(dictOf(top(), 'SETITEM'), [k, v]);
        break;
      }
      case 0x75: {
        // 'u' SETITEMS
        opName = 'SETITEMS';
        const kv = popMark();
        setItems(dictOf(top(), 'SETITEMS'), kv);
        break;
      }
      case 0x61: {
        // 'a' APPEND
        opName = 'APPEND';
        const v = pop();
        listOf(top(), 'APPEND').push(v);
        break;
      }
      case 0x65: {
        // 'e' APPENDS
        opName = 'APPENDS';
        const items = popMark();
        const list = listOf(top(), 'APPENDS');
        for (const v of items) list.push(v);
        break;
      }
      case 0x2e: // '.' STOP
        opName = 'STOP';
        if (marks.length) fail(`${marks.length} MARK(s) left open`);
        if (stack.length !== 1) fail(`${stack.length} values on the stack, expected exactly 1`);
        if (pos !== bytes.length) fail(`${bytes.length - pos} bytes after STOP`);
        return stack[0];
      default: {
        const ch = op >= 0x20 && op < 0x7f ? ` ('${String.fromCharCode(op)}')` : '';
        fail(`unknown or unsupported opcode 0x${op.toString(16).padStart(2, '0')}${ch}; only the opcodes torch.save emits are accepted`);
      }
    }
  }
}
