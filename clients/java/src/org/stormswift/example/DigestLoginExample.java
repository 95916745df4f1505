package org.stormswift.example;

import java.util.Map;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.CallbackHandler;
import javax.security.auth.callback.NameCallback;
import javax.security.auth.callback.PasswordCallback;
import javax.security.auth.login.AppConfigurationEntry;
import javax.security.auth.login.Configuration;
import javax.security.sasl.RealmCallback;

import org.apache.storm.generated.AuthorizationException;
import org.apache.storm.generated.Nimbus;
import org.apache.storm.generated.NimbusSummary;
import org.apache.storm.generated.TopologySummary;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.transport.TSaslClientTransport;
import org.apache.thrift.transport.TSocket;

/**
 * Logs in to a nimbus that authenticates, as a Java client with Storm's DigestSaslTransportPlugin settings does:
 * the StormClient section of the JAAS file named by -Djava.security.auth.login.config (read by Java's own JAAS
 * parser), Java's DIGEST-MD5, service "storm_thrift_server" at the host connected to. Prints the leader and the
 * topologies this user may list, and whether it may read each one's conf. With AS_USER, the client asks to act
 * for that user (SASL's authorization id, as Storm's clients do for {@code asUser}); nimbus allows it only as its
 * {@code nimbus.impersonation.acl} says.
 *
 * <p>Usage: java -Djava.security.auth.login.config=FILE DigestLoginExample HOST PORT [AS_USER]
 */
public final class DigestLoginExample {
    public static void main(String[] args) throws Exception {
        if (args.length != 2 && args.length != 3) {
            System.err.println("usage: DigestLoginExample HOST PORT [AS_USER]");
            System.exit(2);
        }
        AppConfigurationEntry[] entries = Configuration.getConfiguration().getAppConfigurationEntry("StormClient");
        if (entries == null || entries.length == 0) {
            System.err.println("the JAAS file has no StormClient section");
            System.exit(2);
        }
        Map<String, ?> options = entries[0].getOptions();
        String user = (String) options.get("username");
        String password = (String) options.get("password");
        CallbackHandler login = (Callback[] callbacks) -> {
            for (Callback callback : callbacks) {
                if (callback instanceof NameCallback) {
                    ((NameCallback) callback).setName(user);
                } else if (callback instanceof PasswordCallback) {
                    ((PasswordCallback) callback).setPassword(password.toCharArray());
                } else if (callback instanceof RealmCallback) {
                    RealmCallback realm = (RealmCallback) callback;
                    realm.setText(realm.getDefaultText());
                }
            }
        };
        TSaslClientTransport transport = new TSaslClientTransport(
                "DIGEST-MD5", args.length == 3 ? args[2] : null, "storm_thrift_server", args[0], null, login,
                new TSocket(args[0], Integer.parseInt(args[1])));
        transport.open();
        try {
            Nimbus.Client nimbus = new Nimbus.Client(new TBinaryProtocol(transport));
            NimbusSummary leader = nimbus.getLeader();
            System.out.println("logged in as " + user + (args.length == 3 ? " for " + args[2] : "") + ", leader "
                    + leader.get_host() + ":" + leader.get_port());
            for (TopologySummary topology : nimbus.getTopologySummaries()) {
                String conf;
                try {
                    nimbus.getTopologyConf(topology.get_id());
                    conf = "conf readable";
                } catch (AuthorizationException e) {
                    conf = "conf refused";
                }
                System.out.println("topology " + topology.get_name() + " owner " + topology.get_owner() + " " + conf);
            }
        } finally {
            transport.close();
        }
    }
}
