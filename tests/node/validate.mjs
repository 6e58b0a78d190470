// Validates glTF binary files (.vrm, .vrma) with the Khronos glTF-Validator; prints its reports as JSON.
// usage: node validate.mjs FILE...
import { readFileSync } from 'node:fs';
import validator from 'gltf-validator';

const reports = [];
for (const path of process.argv.slice(2)) {
  const report = await validator.validateBytes(new Uint8Array(readFileSync(path)));
  reports.push({ path, issues: report.issues });
}
console.log(JSON.stringify(reports));
