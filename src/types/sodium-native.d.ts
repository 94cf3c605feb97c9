// The libsodium calls Coffer uses (restic's MAC is Poly1305-AES, which node does not expose).
declare module 'sodium-native' {
  function crypto_onetimeauth(out: Uint8Array, message: Uint8Array, key: Uint8Array): void;
  function crypto_onetimeauth_init(state: Uint8Array, key: Uint8Array): void;
  function crypto_onetimeauth_update(state: Uint8Array, message: Uint8Array): void;
  function crypto_onetimeauth_final(state: Uint8Array, out: Uint8Array): void;
  const sodium: {
    crypto_onetimeauth: typeof crypto_onetimeauth;
    crypto_onetimeauth_init: typeof crypto_onetimeauth_init;
    crypto_onetimeauth_update: typeof crypto_onetimeauth_update;
    crypto_onetimeauth_final: typeof crypto_onetimeauth_final;
    crypto_onetimeauth_STATEBYTES: number;
  };
  export default sodium;
}
