package org.stormswift.example;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import org.apache.storm.generated.Bolt;
import org.apache.storm.generated.ClusterSummary;
import org.apache.storm.generated.ComponentCommon;
import org.apache.storm.generated.ComponentObject;
import org.apache.storm.generated.GlobalStreamId;
import org.apache.storm.generated.KillOptions;
import org.apache.storm.generated.NotAliveException;
import org.apache.storm.generated.Grouping;
import org.apache.storm.generated.Nimbus;
import org.apache.storm.generated.NimbusSummary;
import org.apache.storm.generated.NullStruct;
import org.apache.storm.generated.ShellComponent;
import org.apache.storm.generated.SpoutSpec;
import org.apache.storm.generated.StateSpoutSpec;
import org.apache.storm.generated.StormTopology;
import org.apache.storm.generated.StreamInfo;
import org.apache.storm.generated.TopologyInfo;
import org.apache.storm.generated.TopologySummary;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.transport.TSocket;
import org.apache.thrift.transport.TTransport;
import org.apache.thrift.transport.layered.TFramedTransport;

/**
 * Walks a topology of shell components through its life on a Storm cluster with the Nimbus Thrift API: lists the
 * cluster, uploads an archive, submits, reads the topology's info and conf back, deactivates, activates, and with
 * --kill kills it with a wait and watches it go. Prints one line per step.
 *
 * <p>Usage: ClusterExample HOST PORT TOPOLOGY_NAME [--kill]
 */
public final class ClusterExample {
    public static void main(String[] args) throws Exception {
        if (args.length < 3 || args.length > 4 || (args.length == 4 && !args[3].equals("--kill"))) {
            System.err.println("usage: ClusterExample HOST PORT TOPOLOGY_NAME [--kill]");
            System.exit(2);
        }
        TTransport transport = new TFramedTransport(new TSocket(args[0], Integer.parseInt(args[1])));
        transport.open();
        try {
            Nimbus.Client nimbus = new Nimbus.Client(new TBinaryProtocol(transport));
            ClusterSummary cluster = nimbus.getClusterInfo();
            for (NimbusSummary n : cluster.get_nimbuses()) {
                System.out.println("nimbus " + n.get_host() + ":" + n.get_port() + " leader=" + n.is_isLeader()
                        + " version=" + n.get_version());
            }
            System.out.println("supervisors " + cluster.get_supervisors_size());
            System.out.println("topologies " + cluster.get_topologies_size());

            String location = nimbus.beginFileUpload();
            nimbus.uploadChunk(location, ByteBuffer.wrap(archive()));
            nimbus.finishFileUpload(location);
            String name = args[2];
            nimbus.submitTopology(name, location, "{\"topology.workers\": 2}", topology());
            String id = nimbus.getTopologySummaryByName(name).get_id();
            System.out.println("submitted " + id);

            List<TopologySummary> topologies = nimbus.getTopologySummaries();
            for (TopologySummary t : topologies) {
                System.out.println("topology " + t.get_name() + " " + t.get_status() + " executors="
                        + t.get_num_executors() + " id=" + t.get_id());
            }
            TopologyInfo info = nimbus.getTopologyInfo(id);
            System.out.println("info " + info.get_name() + " " + info.get_status() + " errors=" + info.get_errors_size());
            System.out.println("conf topology.workers=" + nimbus.getTopologyConf(id).contains("\"topology.workers\":2"));
            nimbus.deactivate(name);
            System.out.println("deactivated " + nimbus.getTopologySummary(id).get_status());
            nimbus.activate(name);
            System.out.println("activated " + nimbus.getTopologySummary(id).get_status());
            if (args.length == 4) {
                KillOptions kill = new KillOptions();
                kill.set_wait_secs(1);
                nimbus.killTopologyWithOpts(name, kill);
                System.out.println("killing " + nimbus.getTopologySummary(id).get_status());
                long deadline = System.currentTimeMillis() + 15000;
                while (!nimbus.isTopologyNameAllowed(name) && System.currentTimeMillis() < deadline) {
                    Thread.sleep(100);
                }
                try {
                    nimbus.getTopologyInfo(id);
                    System.out.println("still alive");
                } catch (NotAliveException e) {
                    System.out.println("gone: NotAliveException " + e.get_msg());
                }
            }
        } finally {
            transport.close();
        }
    }

    /** A topology archive whose resources/ folder holds the shell components' scripts. */
    private static byte[] archive() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            zip.putNextEntry(new ZipEntry("resources/split.py"));
            zip.write("print('split')\n".getBytes(StandardCharsets.UTF_8));
            zip.closeEntry();
        }
        return bytes.toByteArray();
    }

    private static ComponentCommon common(Map<GlobalStreamId, Grouping> inputs, String... fields) {
        Map<String, StreamInfo> streams = new HashMap<>();
        streams.put("default", new StreamInfo(List.of(fields), false));
        return new ComponentCommon(inputs, streams);
    }

    private static StormTopology topology() {
        Map<String, SpoutSpec> spouts = new HashMap<>();
        spouts.put("sentences", new SpoutSpec(
                ComponentObject.shell(new ShellComponent("python3", "sentences.py")), common(new HashMap<>(), "sentence")));
        Map<GlobalStreamId, Grouping> splitInputs = new HashMap<>();
        splitInputs.put(new GlobalStreamId("sentences", "default"), Grouping.shuffle(new NullStruct()));
        Map<GlobalStreamId, Grouping> countInputs = new HashMap<>();
        countInputs.put(new GlobalStreamId("split", "default"), Grouping.fields(List.of("word")));
        Map<String, Bolt> bolts = new HashMap<>();
        ComponentCommon split = common(splitInputs, "word");
        split.set_parallelism_hint(3);
        bolts.put("split", new Bolt(ComponentObject.shell(new ShellComponent("python3", "split.py")), split));
        bolts.put("count", new Bolt(
                ComponentObject.shell(new ShellComponent("python3", "count.py")), common(countInputs, "word", "count")));
        return new StormTopology(spouts, bolts, new HashMap<String, StateSpoutSpec>());
    }
}
