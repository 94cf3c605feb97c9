// The one libsodium call Coffer uses (restic's MAC is Poly1305-AES, which node does not expose).
declare module 'sodium-native' {
  function crypto_onetimeauth(out: Uint8Array, message: Uint8Array, key: Uint8Array): void;
  const sodium: { crypto_onetimeauth: typeof crypto_onetimeauth };
  export default sodium;
}
