import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * Starts DynamoDB Local listening on 127.0.0.1 only, with the same arguments as its own main.
 *
 * DynamoDB Local 3.x has no option for the address: its main binds every interface, so the
 * tables (user ids in them) would be open to the network. This builds the server as its main does,
 * then gives each Jetty connector the loopback host before anything is bound. If the jar's
 * internals change so that this cannot be done, it exits with an error instead of starting a
 * server open to the network.
 *
 * Run by startDynamoDbLocal.ts in Java's source-file mode (`java -cp DynamoDBLocal.jar <this file>`).
 */
public final class LoopbackDynamoDbLocal {
  private static final String HOST = "127.0.0.1";

  public static void main(String[] args) {
    try {
      DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
      Field field = DynamoDBProxyServer.class.getDeclaredField("server");
      field.setAccessible(true);
      Server server = (Server) field.get(proxy);
      Connector[] connectors = server.getConnectors();
      if (connectors.length == 0) throw new IllegalStateException("DynamoDB Local's server has no connector");
      for (Connector connector : connectors) {
        if (!(connector instanceof ServerConnector)) {
          throw new IllegalStateException("unexpected Jetty connector " + connector.getClass().getName());
        }
        ((ServerConnector) connector).setHost(HOST);
      }
      proxy.start();
    } catch (Throwable error) {
      // Jetty's threads could keep a half-started JVM alive: exit so the caller sees the failure.
      System.err.println("LoopbackDynamoDbLocal: could not start DynamoDB Local on " + HOST + ": " + error);
      error.printStackTrace();
      System.exit(1);
    }
  }
}
