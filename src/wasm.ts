/**
 * The WebAssembly kernels' common ground: the part of the WebAssembly JS API hashwarden uses, and
 * a module compiled from its base64 bytes on first use. Declared here because the project's libs
 * (ES2023 + Node types, no DOM) do not declare the API, and read from globalThis because it may
 * be absent (`node --jitless`), where every kernel has a JavaScript fallback.
 */

/** A WebAssembly.Memory, as far as the kernels use it. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** The WebAssembly namespace, as far as the kernels use it. */
export interface WasmApi {
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports?: { env: { memory: WasmMemory } }) => { readonly exports: unknown };
  readonly Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}

/** A compiled module and the API to instantiate it and make memories with. */
export interface CompiledWasm {
  readonly api: WasmApi;
  readonly module: object;
}

/**
 * A module compiled from `base64` the first time `get` is called, then shared; `get` returns null
 * (and `error` says why) when this runtime cannot compile it.
 *
 * @example
 * ```ts
 * const KERNEL = new LazyWasm(KERNEL_WASM_BASE64);
 * const compiled = KERNEL.get(); // null under node --jitless
 * ```
 */
export class LazyWasm {
  readonly #base64: string;
  #compiled: CompiledWasm | null | undefined;
  #error: unknown;

  constructor(base64: string) {
    this.#base64 = base64;
  }

  /** Why `get` returned null (undefined before a failure). */
  get error(): unknown {
    return this.#error;
  }

  get(): CompiledWasm | null {
    if (this.#compiled === undefined) {
      try {
        const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
        if (api === undefined) throw new Error('WebAssembly is not available in this runtime');
        this.#compiled = { api, module: new api.Module(Buffer.from(this.#base64, 'base64')) };
      } catch (error) {
        this.#compiled = null;
        this.#error = error;
      }
    }
    return this.#compiled;
  }
}

/**
 * A kernel with its own memory, instantiated the first time `get` is called and then shared:
 * for kernels whose memory is scratch space for one synchronous call at a time. `init` runs once
 * on the new instance (to fill constant tables). `get` returns null without WebAssembly.
 *
 * @example
 * ```ts
 * const kernel = new LazyInstance<{ sums(at: number, length: number): number }>(KERNEL_WASM_BASE64);
 * const exports = kernel.get(); // null under node --jitless
 * ```
 */
export class LazyInstance<T> {
  readonly #wasm: LazyWasm;
  readonly #init: ((exports: T) => void) | undefined;
  #exports: T | null | undefined;

  constructor(base64: string, init?: (exports: T) => void) {
    this.#wasm = new LazyWasm(base64);
    this.#init = init;
  }

  get(): T | null {
    if (this.#exports === undefined) {
      const compiled = this.#wasm.get();
      this.#exports = compiled === null ? null : (new compiled.api.Instance(compiled.module).exports as T);
      if (this.#exports !== null) this.#init?.(this.#exports);
    }
    return this.#exports;
  }
}
