// Bundles the test host page (test/host) with React, ReactDOM, Redux and ReactRedux included, as Mattermost has them.
import * as esbuild from 'esbuild';

await esbuild.build({
    entryPoints: ['test/host/host.tsx'],
    bundle: true,
    format: 'iife',
    target: 'es2020',
    jsx: 'transform',
    define: {'process.env.NODE_ENV': '"production"'},
    outfile: 'test/host/dist/host.js',
    logLevel: 'warning',
});
