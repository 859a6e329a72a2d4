// Bundles src/index.tsx into dist/main.js. React, ReactDOM, Redux and ReactRedux come from the Mattermost page
// (window.React, ...) so the plugin never ships a second copy that would break hooks and the shared store.
import * as esbuild from 'esbuild';

const hostGlobals = {
    react: 'React',
    'react-dom': 'ReactDOM',
    redux: 'Redux',
    'react-redux': 'ReactRedux',
};

const fromHost = {
    name: 'from-host',
    setup(build) {
        const filter = new RegExp(`^(${Object.keys(hostGlobals).join('|')})$`);
        build.onResolve({filter}, (args) => ({path: args.path, namespace: 'host-global'}));
        build.onLoad({filter: /.*/, namespace: 'host-global'}, (args) => ({
            contents: `module.exports = window[${JSON.stringify(hostGlobals[args.path])}];`,
            loader: 'js',
        }));
    },
};

await esbuild.build({
    entryPoints: ['src/index.tsx'],
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2020',
    jsx: 'transform',
    outfile: 'dist/main.js',
    plugins: [fromHost],
    logLevel: 'warning',
});
