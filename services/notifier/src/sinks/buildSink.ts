import type { SinkConfig } from "../config.js";
import type { Sink } from "../ports.js";
import { buildFileSink } from "./fileSink.js";

/** The sink `config` names. A new sink adds its case here (the compiler asks for it). */
export function buildSink(config: SinkConfig): Sink {
  switch (config.name) {
    case "file":
      return buildFileSink(config.path);
  }
}
