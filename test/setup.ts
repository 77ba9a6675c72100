// Every test process uses the Node platform (Dawn).
import '../src/runtime/node.ts';
