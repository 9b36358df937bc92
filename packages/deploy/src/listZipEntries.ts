/** Signature of a zip's end-of-central-directory record ("PK\5\6"). */
const END_OF_DIRECTORY = Buffer.from([0x50, 0x4b, 0x05, 0x06]);
/** Signature of a central directory entry ("PK\1\2"). */
const DIRECTORY_ENTRY = 0x02014b50;

/** The file names in a zip archive, from its central directory: what Lambda will unpack. */
export function listZipEntries(zip: Buffer): string[] {
  const end = zip.lastIndexOf(END_OF_DIRECTORY);
  if (end < 0) throw new Error("not a zip archive: no end of central directory");
  const count = zip.readUInt16LE(end + 10);
  let offset = zip.readUInt32LE(end + 16);
  const names: string[] = [];
  for (let index = 0; index < count; index++) {
    if (zip.readUInt32LE(offset) !== DIRECTORY_ENTRY)
      throw new Error(`corrupt zip: entry ${index} is not where the directory says`);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    names.push(zip.toString("utf8", offset + 46, offset + 46 + nameLength));
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return names;
}
