// Puts the .proto files the client loads into the package before `npm pack`
// (prepack), and removes that copy afterwards (postpack, `--remove`), so a
// checkout keeps one copy: the repository's proto/ directory.
import { cpSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PROTO_FILE = 'minikafka/v1/minikafka.proto';
const packed = path.join(PACKAGE_DIR, 'proto');

rmSync(packed, { recursive: true, force: true });
if (process.argv[2] !== '--remove') {
  const target = path.join(packed, PROTO_FILE);
  cpSync(path.resolve(PACKAGE_DIR, '../../proto', PROTO_FILE), target);
}
