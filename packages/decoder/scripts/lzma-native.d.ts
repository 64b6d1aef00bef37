/** The part of lzma-native (liblzma bindings, CommonJS) that `real-code.ts` uses. */
declare module 'lzma-native' {
  interface Lzma {
    /** Decodes an .xz or .lzma buffer; rejects on corrupt or unsupported input. */
    decompress(input: Uint8Array): Promise<Buffer>;
  }
  const lzma: Lzma;
  export default lzma;
}
