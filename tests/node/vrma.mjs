// Loads a VRM 1.0 model and a VRM Animation with three.js's GLTFLoader and pixiv's three-vrm and
// three-vrm-animation plugins, plays the animation on the model and prints, as JSON, the face
// mesh's morph target influences at each time asked for: what a three.js page would show.
// usage: node vrma.mjs MODEL.vrm ANIMATION.vrma MESH_NAME T1 T2 ...
import { readFileSync } from 'node:fs';
import * as THREE from 'three';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { VRMLoaderPlugin } from '@pixiv/three-vrm';
import { VRMAnimationLoaderPlugin, createVRMAnimationClip } from '@pixiv/three-vrm-animation';

const [model, animation, meshName, ...times] = process.argv.slice(2);
const loader = new GLTFLoader();
loader.register((parser) => new VRMLoaderPlugin(parser));
loader.register((parser) => new VRMAnimationLoaderPlugin(parser));
const bytes = (path) => { const b = readFileSync(path); return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength); };

const vrm = (await loader.parseAsync(bytes(model), '')).userData.vrm;
const loaded = await loader.parseAsync(bytes(animation), '');
const vrmAnimation = loaded.userData.vrmAnimations[0];
const clip = createVRMAnimationClip(vrmAnimation, vrm);
const mixer = new THREE.AnimationMixer(vrm.scene);
const action = mixer.clipAction(clip);
action.setLoop(THREE.LoopOnce, 1);
action.clampWhenFinished = true;
action.play();
const mesh = vrm.scene.getObjectByName(meshName);
const influences = [];
for (const t of times.map(Number)) {
  mixer.setTime(t);
  vrm.update(0);
  influences.push(Array.from(mesh.morphTargetInfluences));
}
const expressions = vrmAnimation.expressionTracks;
console.log(JSON.stringify({
  duration: clip.duration,
  tracks: clip.tracks.map((track) => track.name),
  preset: [...expressions.preset.keys()],
  custom: [...expressions.custom.keys()],
  influences,
}));
