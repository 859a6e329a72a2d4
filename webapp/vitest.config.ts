import {defineConfig} from 'vitest/config';

export default defineConfig({
    esbuild: {jsx: 'transform'},
    test: {
        environment: 'jsdom',
        include: ['src/**/*.test.{ts,tsx}'],
        globals: true,
    },
});
