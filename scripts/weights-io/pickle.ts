/**
 * A restricted unpickler: it interprets only the opcodes a PyTorch state_dict uses and builds plain
 * data. Nothing in the file is ever executed: a global must be on the caller's allow-list (anything
 * else, `os.system`, `builtins.eval`, ..., is refused when the GLOBAL opcode is read), and REDUCE only
 * calls the caller's own JavaScript stand-in for an allowed callable. Opcodes outside the supported set
 * (INST, OBJ, NEWOBJ, EXT*, ...) are refused by name. The VM is iterative and its stack and memo are
 * bounded, so hostile input fails with an error rather than exhausting memory or hanging.
 */

export type PyKey = string | number | bigint | boolean | null;
export type PyValue = PyKey | PyList | PyTuple | PyDict | PyGlobal | PyObject;

export class PyList {
  constructor(readonly items: PyValue[] = []) {}
}
export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}
export class PyDict {
  readonly map = new Map<PyKey, PyValue>();
}
/** A reference to an allowed global (a class or function), e.g. torch.FloatStorage. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}
/** Whatever an allowed callable or persistent_load returned (a tensor, a storage reference...). */
export class PyObject {
  constructor(
    readonly type: string,
    readonly value: unknown,
  ) {}
}

/** JavaScript stand-in for an allowed Python callable; `null` = may be referenced, never called. */
export type AllowedGlobal = ((args: readonly PyValue[]) => PyValue) | null;

export interface UnpickleOptions {
  /** Allowed globals by "module.name". Everything else is refused. */
  globals: Record<string, AllowedGlobal>;
  /** Resolves BINPERSID/PERSID ids (PyTorch storages); without it they are refused. */
  persistentLoad?: (pid: PyValue) => PyValue;
  /** Byte offset to start at (legacy .pth files hold consecutive pickles). */
  offset?: number;
  maxStack?: number;
  maxMemo?: number;
}

export interface UnpickleResult {
  value: PyValue;
  /** Offset just after the STOP opcode. */
  end: number;
}

export class PickleError extends Error {
  constructor(message: string, offset: number) {
    super(`pickle refused at byte ${offset}: ${message}`);
    this.name = "PickleError";
  }
}

/** Names of the opcodes we refuse, for clear errors. */
const REFUSED: Record<number, string> = {
  0x69: "INST", 0x6f: "OBJ", 0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4",
  0x49: "INT", 0x4c: "LONG", 0x8b: "LONG4", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
  0x56: "UNICODE", 0x46: "FLOAT", 0x64: "DICT", 0x6c: "LIST", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP",
  0x67: "GET", 0x70: "PUT", 0x42: "BINBYTES", 0x43: "SHORT_BINBYTES", 0x8e: "BINBYTES8",
  0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS",
  0x91: "FROZENSET",
};

const MAX_LINE = 256;

export function unpickle(bytes: Uint8Array, options: UnpickleOptions): UnpickleResult {
  const maxStack = options.maxStack ?? 100_000;
  const maxMemo = options.maxMemo ?? 100_000;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  let pos = options.offset ?? 0;
  let opStart = pos;
  const stack: PyValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();

  const fail = (msg: string): never => {
    throw new PickleError(msg, opStart);
  };
  const need = (n: number): number => {
    if (n < 0 || pos + n > bytes.length) fail(`truncated: needs ${n} more bytes, ${bytes.length - pos} left`);
    const at = pos;
    pos += n;
    return at;
  };
  const push = (v: PyValue): void => {
    if (stack.length >= maxStack) fail(`stack exceeds ${maxStack} items`);
    stack.push(v);
  };
  const pop = (): PyValue => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) fail("stack underflow");
    return stack.pop() as PyValue;
  };
  const top = (): PyValue => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) fail("stack underflow");
    return stack[stack.length - 1] as PyValue;
  };
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) fail("no MARK on the stack");
    return stack.splice(m as number);
  };
  const put = (index: number): void => {
    if (!memo.has(index) && memo.size >= maxMemo) fail(`memo exceeds ${maxMemo} entries`);
    memo.set(index, top());
  };
  const get = (index: number): void => {
    if (!memo.has(index)) fail(`memo key ${index} was never stored`);
    push(memo.get(index)!);
  };
  const text = (n: number): string => {
    const at = need(n);
    try {
      return utf8.decode(bytes.subarray(at, at + n));
    } catch {
      return fail("string is not valid UTF-8");
    }
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0 || end - pos > MAX_LINE) fail(`expected a newline-terminated name of at most ${MAX_LINE} bytes`);
    const s = text(end - pos);
    pos++;
    return s;
  };
  const resolveGlobal = (module: string, name: string): PyGlobal => {
    const q = `${module}.${name}`;
    if (!Object.prototype.hasOwnProperty.call(options.globals, q)) {
      fail(`global "${q}" is not allowed (a state_dict only needs: ${Object.keys(options.globals).join(", ")}); the file may contain code and was not loaded`);
    }
    return new PyGlobal(module, name);
  };
  const asKey = (k: PyValue): PyKey => {
    if (k === null || typeof k !== "object") return k;
    return fail(`dict key of type ${k.constructor.name} is not supported`);
  };
  const setItems = (dict: PyValue, kv: PyValue[]): void => {
    if (!(dict instanceof PyDict)) fail(`SETITEM(S) on a ${describe(dict)}, not a dict`);
    if (kv.length % 2 !== 0) fail("SETITEMS with an odd number of items");
    for (let i = 0; i < kv.length; i += 2) (dict as PyDict).map.set(asKey(kv[i]!), kv[i + 1]!);
  };
  const appendItems = (list: PyValue, items: PyValue[]): void => {
    if (!(list instanceof PyList)) fail(`APPEND(S) on a ${describe(list)}, not a list`);
    (list as PyList).items.push(...items);
  };
  const toInt = (n: bigint): number | bigint => (n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n);

  for (;;) {
    opStart = pos;
    const op = bytes[need(1)]!;
    switch (op) {
      case 0x80: // PROTO
        if (bytes[need(1)]! > 5) fail(`pickle protocol ${bytes[pos - 1]} is newer than 5`);
        break;
      case 0x95: // FRAME: a length hint only
        need(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length > 0) fail(`STOP with ${stack.length} values and ${marks.length} marks on the stack`);
        return { value: stack[0]!, end: pos };
      case 0x28: // MARK
        if (marks.length >= maxStack) fail("too many MARKs");
        marks.push(stack.length);
        break;
      case 0x7d: // EMPTY_DICT
        push(new PyDict());
        break;
      case 0x5d: // EMPTY_LIST
        push(new PyList());
        break;
      case 0x29: // EMPTY_TUPLE
        push(new PyTuple([]));
        break;
      case 0x74: // TUPLE
        push(new PyTuple(popMark()));
        break;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: {
        // TUPLE3
        const n = op - 0x84;
        const items: PyValue[] = [];
        for (let i = 0; i < n; i++) items.unshift(pop());
        push(new PyTuple(items));
        break;
      }
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4a: // BININT
        push(view.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        push(bytes[need(1)]!);
        break;
      case 0x4d: // BININT2
        push(view.getUint16(need(2), true));
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement of n bytes
        const n = bytes[need(1)]!;
        const at = need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]!);
        if (n > 0 && bytes[at + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        push(toInt(v));
        break;
      }
      case 0x47: // BINFLOAT: big-endian double
        push(view.getFloat64(need(8), false));
        break;
      case 0x58: // BINUNICODE
        push(text(view.getUint32(need(4), true)));
        break;
      case 0x8d: {
        // BINUNICODE8
        const n = view.getBigUint64(need(8), true);
        if (n > BigInt(bytes.length)) fail(`string length ${n} exceeds the file`);
        push(text(Number(n)));
        break;
      }
      case 0x8c: // SHORT_BINUNICODE
        push(text(bytes[need(1)]!));
        break;
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x71: // BINPUT
        put(bytes[need(1)]!);
        break;
      case 0x72: // LONG_BINPUT
        put(view.getUint32(need(4), true));
        break;
      case 0x94: // MEMOIZE
        put(memo.size);
        break;
      case 0x68: // BINGET
        get(bytes[need(1)]!);
        break;
      case 0x6a: // LONG_BINGET
        get(view.getUint32(need(4), true));
        break;
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        const name = line();
        push(resolveGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail("STACK_GLOBAL needs two strings");
        push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE: callable(*args), only for allowed callables with a JavaScript stand-in
        const args = pop();
        const callable = pop();
        if (!(callable instanceof PyGlobal)) fail(`REDUCE on a ${describe(callable)}, only allowed globals may be called`);
        const g = callable as PyGlobal;
        const fn = options.globals[g.qualifiedName];
        if (!fn) fail(`global "${g.qualifiedName}" may be referenced but not called`);
        if (!(args instanceof PyTuple)) fail(`REDUCE arguments for "${g.qualifiedName}" are a ${describe(args)}, not a tuple`);
        try {
          push(fn!((args as PyTuple).items));
        } catch (e) {
          if (e instanceof PickleError) throw e;
          fail(`${g.qualifiedName}: ${(e as Error).message}`);
        }
        break;
      }
      case 0x51: // BINPERSID
      case 0x50: {
        // PERSID
        const pid = op === 0x51 ? pop() : line();
        if (!options.persistentLoad) fail("persistent ids are not expected in this pickle");
        try {
          push(options.persistentLoad!(pid));
        } catch (e) {
          if (e instanceof PickleError) throw e;
          fail(`persistent id: ${(e as Error).message}`);
        }
        break;
      }
      case 0x62: {
        // BUILD: only attribute state on dicts (an OrderedDict's `_metadata`), which is dropped
        const state = pop();
        const obj = top();
        if (!(obj instanceof PyDict)) fail(`BUILD on a ${describe(obj)} is not supported`);
        void state;
        break;
      }
      default: {
        const name = REFUSED[op];
        fail(name ? `opcode ${name} is not allowed in a state_dict` : `unknown opcode 0x${op.toString(16).padStart(2, "0")}`);
      }
    }
  }
}

export function describe(v: PyValue): string {
  if (v === null) return "None";
  if (v instanceof PyGlobal) return `global ${v.qualifiedName}`;
  if (v instanceof PyObject) return v.type;
  if (typeof v === "object") return v.constructor.name.replace(/^Py/, "").toLowerCase();
  return typeof v;
}
