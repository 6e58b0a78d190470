// Parses a VMD with three.js's MMD parser and builds its morph animation with MMDLoader's
// AnimationBuilder on a mesh with the named morphs, then prints, as JSON, the morph target
// influences at each time asked for: what three.js's MMD tools would show.
// usage: node vmd.mjs MOTION.vmd MORPH1,MORPH2,... T1 T2 ...
import { readFileSync } from 'node:fs';
import * as THREE from 'three';
import { MMDLoader } from 'three/examples/jsm/loaders/MMDLoader.js';
import { MMDParser } from 'three/examples/jsm/libs/mmdparser.module.js';

const [path, names, ...times] = process.argv.slice(2);
const morphs = names.split(',');
const file = readFileSync(path);
const vmd = new MMDParser.Parser().parseVmd(file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength), true);
const geometry = new THREE.BufferGeometry();
geometry.setAttribute('position', new THREE.Float32BufferAttribute([0, 0, 0, 1, 0, 0, 0, 1, 0], 3));
geometry.morphAttributes.position = morphs.map(() => new THREE.Float32BufferAttribute([0, 0, 0, 0, 0, 0, 0, 0, 0], 3));
const mesh = new THREE.SkinnedMesh(geometry, new THREE.MeshBasicMaterial());
mesh.bind(new THREE.Skeleton([]));
mesh.morphTargetDictionary = Object.fromEntries(morphs.map((name, i) => [name, i]));
mesh.morphTargetInfluences = morphs.map(() => 0);
const warn = console.warn;
console.warn = () => {};  // r171 says MMDLoader is deprecated; the parser and builder are what we test
const clip = new MMDLoader().animationBuilder.build(vmd, mesh);
console.warn = warn;
const mixer = new THREE.AnimationMixer(mesh);
const action = mixer.clipAction(clip);
action.setLoop(THREE.LoopOnce, 1);
action.clampWhenFinished = true;
action.play();
const influences = [];
for (const t of times.map(Number)) {
  mixer.setTime(t);
  influences.push(Array.from(mesh.morphTargetInfluences));
}
console.log(JSON.stringify({ magic: vmd.metadata.magic, morphCount: vmd.metadata.morphCount, influences }));
