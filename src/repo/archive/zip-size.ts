/**
 * The exact byte length of the ZIP that `write.ts` makes with yazl, computed before any data is
 * read (HTTP needs `Content-Length` up front). It mirrors yazl 3's own layout: STORE only, so data
 * is as long as the file; a data descriptor after streamed entries; a ZIP64 extra field in the
 * central directory for entries past 4 GiB; and always the ZIP64 end records, because the
 * writer forces them (yazl's own total-size callback overcounts by 76 bytes for a central
 * directory of 64 KiB or more unless they are forced: both must agree, and forcing them does).
 */

const LOCAL_FILE_HEADER = 30;
const DATA_DESCRIPTOR = 16;
const ZIP64_DATA_DESCRIPTOR = 24;
const CENTRAL_DIRECTORY_RECORD = 46;
/** yazl puts Info-ZIP's universal timestamp ("UT", mtime) in every central directory record. */
const UNIVERSAL_TIMESTAMP_FIELD = 9;
const ZIP64_EXTRA_FIELD = 28;
const ZIP64_END_RECORD = 56;
const ZIP64_END_LOCATOR = 20;
const END_RECORD = 22;
/** yazl switches an entry to ZIP64 above this size or local header offset. */
const ZIP64_THRESHOLD = 0xfffffffe;

export interface SizedEntry {
  /** UTF-8 length of the entry name. */
  nameBytes: number;
  /** Stored (= uncompressed) data length. */
  size: number;
  /** Data streamed with sizes and CRC in a trailing data descriptor (yazl's addReadStream*). */
  streamed: boolean;
}

export function zipSize(entries: Iterable<SizedEntry>): number {
  let cursor = 0;
  let centralDirectory = 0;
  for (const e of entries) {
    const zip64 = e.size > ZIP64_THRESHOLD || cursor > ZIP64_THRESHOLD;
    cursor += LOCAL_FILE_HEADER + e.nameBytes + e.size;
    if (e.streamed) cursor += zip64 ? ZIP64_DATA_DESCRIPTOR : DATA_DESCRIPTOR;
    centralDirectory += CENTRAL_DIRECTORY_RECORD + e.nameBytes + UNIVERSAL_TIMESTAMP_FIELD + (zip64 ? ZIP64_EXTRA_FIELD : 0);
  }
  return cursor + centralDirectory + ZIP64_END_RECORD + ZIP64_END_LOCATOR + END_RECORD;
}
