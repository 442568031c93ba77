//! Protobuf request bodies of any kind in [`FIELDS`], decoded into the JSON the rest of the server handles.
//!
//! client-go's typed clients send `application/vnd.kubernetes.protobuf`: `kubectl create
//! deployment|service|serviceaccount|job|cronjob|role|rolebinding|clusterrole|clusterrolebinding|secret|
//! configmap|namespace|priorityclass|quota|poddisruptionbudget|ingress` and `kubectl autoscale` do.
//!
//! One generic decoder, driven by two sources: the *types* of every field come from the captured OpenAPI v3
//! schemas the server already serves (string, integer, boolean, number, `format: byte`, arrays, maps,
//! `$ref`s to other messages and to the special types Time, MicroTime, IntOrString, Quantity,
//! RawExtension, FieldsV1); the *field numbers* of each message come from [`FIELDS`], written here from the
//! `protobuf:"...,N,..."` tags of the k8s.io/api types and checked against kube-apiserver 1.36 (its
//! protobuf answers decode to exactly its JSON answers: `emulator/tests/protobuf_bodies.rs`).
//!
//! JSON from the wire follows Go's encoder on the decoded struct: a message field is always written (a
//! non-pointer struct is never "empty"), a scalar that holds its zero value is written only when the Go
//! field is a pointer (`?` in [`FIELDS`]) or has no `omitempty` (the OpenAPI schema gives such fields a
//! zero `default`), and lists and maps are written when they have entries.
//!
//! A field number that [`FIELDS`] does not know, or a message it does not list, is an error (415): the
//! body is refused rather than stored with a field silently dropped.

use std::collections::HashMap;
use std::sync::OnceLock;

use base64::Engine;
use prost::encoding::{WireType, decode_key, decode_varint};
use serde_json::{Map, Value};

/// Field numbers of the messages the decoder knows. One message per line: its OpenAPI schema name
/// (prefix abbreviations below) and `number:jsonName` pairs. `?` marks a Go pointer field (its zero
/// value is kept); `number:*Message` a Go struct embedded `json:",inline"` (its fields land in the
/// enclosing JSON object).
const FIELDS: &str = "
meta.ObjectMeta 1:name 2:generateName 3:namespace 4:selfLink 5:uid 6:resourceVersion 7:generation 8:creationTimestamp 9:deletionTimestamp 10:deletionGracePeriodSeconds? 11:labels 12:annotations 13:ownerReferences 14:finalizers 17:managedFields
meta.OwnerReference 1:kind 3:name 4:uid 5:apiVersion 6:controller? 7:blockOwnerDeletion?
meta.ManagedFieldsEntry 1:manager 2:operation 3:apiVersion 4:time 6:fieldsType 7:fieldsV1 8:subresource
meta.LabelSelector 1:matchLabels 2:matchExpressions
meta.LabelSelectorRequirement 1:key 2:operator 3:values
meta.Condition 1:type 2:status 3:observedGeneration 4:lastTransitionTime 5:reason 6:message

core.Secret 1:metadata 2:data 3:type 4:stringData 5:immutable?
core.ConfigMap 1:metadata 2:data 3:binaryData 4:immutable?
core.Namespace 1:metadata 2:spec 3:status
core.NamespaceSpec 1:finalizers
core.NamespaceStatus 1:phase 2:conditions
core.NamespaceCondition 1:type 2:status 4:lastTransitionTime 5:reason 6:message
core.ServiceAccount 1:metadata 2:secrets 3:imagePullSecrets 4:automountServiceAccountToken?
core.ObjectReference 1:kind 2:namespace 3:name 4:uid 5:apiVersion 6:resourceVersion 7:fieldPath
core.LocalObjectReference 1:name
core.TypedLocalObjectReference 1:apiGroup? 2:kind 3:name
core.TypedObjectReference 1:apiGroup? 2:kind 3:name 4:namespace?
core.Service 1:metadata 2:spec 3:status
core.ServiceSpec 1:ports 2:selector 3:clusterIP 4:type 5:externalIPs 7:sessionAffinity 8:loadBalancerIP 9:loadBalancerSourceRanges 10:externalName 11:externalTrafficPolicy 12:healthCheckNodePort 13:publishNotReadyAddresses 14:sessionAffinityConfig 17:ipFamilyPolicy? 18:clusterIPs 19:ipFamilies 20:allocateLoadBalancerNodePorts? 21:loadBalancerClass? 22:internalTrafficPolicy? 23:trafficDistribution?
core.ServicePort 1:name 2:protocol 3:port 4:targetPort 5:nodePort 6:appProtocol?
core.SessionAffinityConfig 1:clientIP
core.ClientIPConfig 1:timeoutSeconds?
core.ServiceStatus 1:loadBalancer 2:conditions
core.LoadBalancerStatus 1:ingress
core.LoadBalancerIngress 1:ip 2:hostname 3:ipMode? 4:ports
core.PortStatus 1:port 2:protocol 3:error?
core.ResourceQuota 1:metadata 2:spec 3:status
core.ResourceQuotaSpec 1:hard 2:scopes 3:scopeSelector
core.ScopeSelector 1:matchExpressions
core.ScopedResourceSelectorRequirement 1:scopeName 2:operator 3:values
core.ResourceQuotaStatus 1:hard 2:used
core.PodTemplateSpec 1:metadata 2:spec
core.PodSpec 1:volumes 2:containers 3:restartPolicy 4:terminationGracePeriodSeconds? 5:activeDeadlineSeconds? 6:dnsPolicy 7:nodeSelector 8:serviceAccountName 9:serviceAccount 10:nodeName 11:hostNetwork 12:hostPID 13:hostIPC 14:securityContext 15:imagePullSecrets 16:hostname 17:subdomain 18:affinity 19:schedulerName 20:initContainers 21:automountServiceAccountToken? 22:tolerations 23:hostAliases 24:priorityClassName 25:priority? 26:dnsConfig 27:shareProcessNamespace? 28:readinessGates 29:runtimeClassName? 30:enableServiceLinks? 31:preemptionPolicy? 32:overhead 33:topologySpreadConstraints 34:ephemeralContainers 35:setHostnameAsFQDN? 36:os 37:hostUsers? 38:schedulingGates 39:resourceClaims 40:resources 41:hostnameOverride?
core.Container 1:name 2:image 3:command 4:args 5:workingDir 6:ports 7:env 8:resources 9:volumeMounts 10:livenessProbe 11:readinessProbe 12:lifecycle 13:terminationMessagePath 14:imagePullPolicy 15:securityContext 16:stdin 17:stdinOnce 18:tty 19:envFrom 20:terminationMessagePolicy 21:volumeDevices 22:startupProbe 23:resizePolicy 24:restartPolicy? 25:restartPolicyRules
core.ContainerPort 1:name 2:hostPort 3:containerPort 4:protocol 5:hostIP
core.ContainerResizePolicy 1:resourceName 2:restartPolicy
core.EnvVar 1:name 2:value 3:valueFrom
core.EnvVarSource 1:fieldRef 2:resourceFieldRef 3:configMapKeyRef 4:secretKeyRef 5:fileKeyRef
core.ObjectFieldSelector 1:apiVersion 2:fieldPath
core.ResourceFieldSelector 1:containerName 2:resource 3:divisor
core.ConfigMapKeySelector 1:*core.LocalObjectReference 2:key 3:optional?
core.SecretKeySelector 1:*core.LocalObjectReference 2:key 3:optional?
core.FileKeySelector 1:volumeName 2:path 3:key 4:optional?
core.EnvFromSource 1:prefix 2:configMapRef 3:secretRef
core.ConfigMapEnvSource 1:*core.LocalObjectReference 2:optional?
core.SecretEnvSource 1:*core.LocalObjectReference 2:optional?
core.ResourceRequirements 1:limits 2:requests 3:claims
core.ResourceClaim 1:name 2:request
core.VolumeMount 1:name 2:readOnly 3:mountPath 4:subPath 5:mountPropagation? 6:subPathExpr 7:recursiveReadOnly?
core.VolumeDevice 1:name 2:devicePath
core.Probe 1:*core.ProbeHandler 2:initialDelaySeconds 3:timeoutSeconds 4:periodSeconds 5:successThreshold 6:failureThreshold 7:terminationGracePeriodSeconds?
core.ProbeHandler 1:exec 2:httpGet 3:tcpSocket 4:grpc
core.ExecAction 1:command
core.HTTPGetAction 1:path 2:port 3:host 4:scheme 5:httpHeaders
core.HTTPHeader 1:name 2:value
core.TCPSocketAction 1:port 2:host
core.GRPCAction 1:port 2:service?
core.Lifecycle 1:postStart 2:preStop 3:stopSignal?
core.LifecycleHandler 1:exec 2:httpGet 3:tcpSocket 4:sleep
core.SleepAction 1:seconds
core.SecurityContext 1:capabilities 2:privileged? 3:seLinuxOptions 4:runAsUser? 5:runAsNonRoot? 6:readOnlyRootFilesystem? 7:allowPrivilegeEscalation? 8:runAsGroup? 9:procMount? 10:windowsOptions 11:seccompProfile 12:appArmorProfile
core.Capabilities 1:add 2:drop
core.SELinuxOptions 1:user 2:role 3:type 4:level
core.WindowsSecurityContextOptions 1:gmsaCredentialSpecName? 2:gmsaCredentialSpec? 3:runAsUserName? 4:hostProcess?
core.SeccompProfile 1:type 2:localhostProfile?
core.AppArmorProfile 1:type 2:localhostProfile?
core.PodSecurityContext 1:seLinuxOptions 2:runAsUser? 3:runAsNonRoot? 4:supplementalGroups 5:fsGroup? 6:runAsGroup? 7:sysctls 8:windowsOptions 9:fsGroupChangePolicy? 10:seccompProfile 11:appArmorProfile 12:supplementalGroupsPolicy? 13:seLinuxChangePolicy?
core.Sysctl 1:name 2:value
core.Volume 1:name 2:*core.VolumeSource
core.VolumeSource 1:hostPath 2:emptyDir 3:gcePersistentDisk 4:awsElasticBlockStore 5:gitRepo 6:secret 7:nfs 8:iscsi 9:glusterfs 10:persistentVolumeClaim 11:rbd 12:flexVolume 13:cinder 14:cephfs 15:flocker 16:downwardAPI 17:fc 18:azureFile 19:configMap 20:vsphereVolume 21:quobyte 22:azureDisk 23:photonPersistentDisk 24:portworxVolume 25:scaleIO 26:projected 27:storageos 28:csi 29:ephemeral 30:image
core.HostPathVolumeSource 1:path 2:type?
core.EmptyDirVolumeSource 1:medium 2:sizeLimit
core.SecretVolumeSource 1:secretName 2:items 3:defaultMode? 4:optional?
core.ConfigMapVolumeSource 1:*core.LocalObjectReference 2:items 3:defaultMode? 4:optional?
core.KeyToPath 1:key 2:path 3:mode?
core.PersistentVolumeClaimVolumeSource 1:claimName 2:readOnly
core.NFSVolumeSource 1:server 2:path 3:readOnly
core.DownwardAPIVolumeSource 1:items 2:defaultMode?
core.DownwardAPIVolumeFile 1:path 2:fieldRef 3:resourceFieldRef 4:mode?
core.ProjectedVolumeSource 1:sources 2:defaultMode?
core.VolumeProjection 1:secret 2:downwardAPI 3:configMap 4:serviceAccountToken 5:clusterTrustBundle 6:podCertificate
core.SecretProjection 1:*core.LocalObjectReference 2:items 4:optional?
core.ConfigMapProjection 1:*core.LocalObjectReference 2:items 4:optional?
core.DownwardAPIProjection 1:items
core.ServiceAccountTokenProjection 1:audience 2:expirationSeconds? 3:path
core.CSIVolumeSource 1:driver 2:readOnly? 3:fsType? 4:volumeAttributes 5:nodePublishSecretRef
core.EphemeralVolumeSource 1:volumeClaimTemplate
core.PersistentVolumeClaimTemplate 1:metadata 2:spec
core.PersistentVolumeClaimSpec 1:accessModes 2:resources 3:volumeName 4:selector 5:storageClassName? 6:volumeMode? 7:dataSource 8:dataSourceRef 9:volumeAttributesClassName?
core.VolumeResourceRequirements 1:limits 2:requests
core.ImageVolumeSource 1:reference 2:pullPolicy
core.Affinity 1:nodeAffinity 2:podAffinity 3:podAntiAffinity
core.NodeAffinity 1:requiredDuringSchedulingIgnoredDuringExecution 2:preferredDuringSchedulingIgnoredDuringExecution
core.NodeSelector 1:nodeSelectorTerms
core.NodeSelectorTerm 1:matchExpressions 2:matchFields
core.NodeSelectorRequirement 1:key 2:operator 3:values
core.PreferredSchedulingTerm 1:weight 2:preference
core.PodAffinity 1:requiredDuringSchedulingIgnoredDuringExecution 2:preferredDuringSchedulingIgnoredDuringExecution
core.PodAntiAffinity 1:requiredDuringSchedulingIgnoredDuringExecution 2:preferredDuringSchedulingIgnoredDuringExecution
core.PodAffinityTerm 1:labelSelector 2:namespaces 3:topologyKey 4:namespaceSelector 5:matchLabelKeys 6:mismatchLabelKeys
core.WeightedPodAffinityTerm 1:weight 2:podAffinityTerm
core.Toleration 1:key 2:operator 3:value 4:effect 5:tolerationSeconds?
core.HostAlias 1:ip 2:hostnames
core.PodDNSConfig 1:nameservers 2:searches 3:options
core.PodDNSConfigOption 1:name 2:value?
core.PodReadinessGate 1:conditionType
core.TopologySpreadConstraint 1:maxSkew 2:topologyKey 3:whenUnsatisfiable 4:labelSelector 5:minDomains? 6:nodeAffinityPolicy? 7:nodeTaintsPolicy? 8:matchLabelKeys
core.PodOS 1:name
core.PodSchedulingGate 1:name
core.PodResourceClaim 1:name 3:resourceClaimName? 4:resourceClaimTemplateName?

apps.Deployment 1:metadata 2:spec 3:status
apps.DeploymentSpec 1:replicas? 2:selector 3:template 4:strategy 5:minReadySeconds 6:revisionHistoryLimit? 7:paused 9:progressDeadlineSeconds?
apps.DeploymentStrategy 1:type 2:rollingUpdate
apps.RollingUpdateDeployment 1:maxUnavailable 2:maxSurge
apps.DeploymentStatus 1:observedGeneration 2:replicas 3:updatedReplicas 4:availableReplicas 5:unavailableReplicas 6:conditions 7:readyReplicas 8:collisionCount? 9:terminatingReplicas?
apps.DeploymentCondition 1:type 2:status 4:reason 5:message 6:lastUpdateTime 7:lastTransitionTime

batch.Job 1:metadata 2:spec 3:status
batch.JobSpec 1:parallelism? 2:completions? 3:activeDeadlineSeconds? 4:selector 5:manualSelector? 6:template 7:backoffLimit? 8:ttlSecondsAfterFinished? 9:completionMode? 10:suspend? 11:podFailurePolicy 12:backoffLimitPerIndex? 13:maxFailedIndexes? 14:podReplacementPolicy? 15:managedBy? 16:successPolicy
batch.PodFailurePolicy 1:rules
batch.PodFailurePolicyRule 1:action 2:onExitCodes 3:onPodConditions
batch.PodFailurePolicyOnExitCodesRequirement 1:containerName? 2:operator 3:values
batch.PodFailurePolicyOnPodConditionsPattern 1:type 2:status
batch.SuccessPolicy 1:rules
batch.SuccessPolicyRule 1:succeededIndexes? 2:succeededCount?
batch.JobStatus 1:conditions 2:startTime 3:completionTime 4:active 5:succeeded 6:failed 7:completedIndexes 8:uncountedTerminatedPods 9:ready? 10:failedIndexes? 11:terminating?
batch.JobCondition 1:type 2:status 3:lastProbeTime 4:lastTransitionTime 5:reason 6:message
batch.UncountedTerminatedPods 1:succeeded 2:failed
batch.CronJob 1:metadata 2:spec 3:status
batch.CronJobSpec 1:schedule 2:startingDeadlineSeconds? 3:concurrencyPolicy 4:suspend? 5:jobTemplate 6:successfulJobsHistoryLimit? 7:failedJobsHistoryLimit? 8:timeZone?
batch.JobTemplateSpec 1:metadata 2:spec
batch.CronJobStatus 1:active 4:lastScheduleTime 5:lastSuccessfulTime

rbac.Role 1:metadata 2:rules
rbac.ClusterRole 1:metadata 2:rules 3:aggregationRule
rbac.AggregationRule 1:clusterRoleSelectors
rbac.PolicyRule 1:verbs 2:apiGroups 3:resources 4:resourceNames 5:nonResourceURLs
rbac.RoleBinding 1:metadata 2:subjects 3:roleRef
rbac.ClusterRoleBinding 1:metadata 2:subjects 3:roleRef
rbac.Subject 1:kind 2:apiGroup 3:name 4:namespace
rbac.RoleRef 1:apiGroup 2:kind 3:name

scheduling.PriorityClass 1:metadata 2:value 3:globalDefault 4:description 5:preemptionPolicy?

policy.PodDisruptionBudget 1:metadata 2:spec 3:status
policy.PodDisruptionBudgetSpec 1:minAvailable 2:selector 3:maxUnavailable 4:unhealthyPodEvictionPolicy?
policy.PodDisruptionBudgetStatus 1:observedGeneration 2:disruptedPods 3:disruptionsAllowed 4:currentHealthy 5:desiredHealthy 6:expectedPods 7:conditions

networking.Ingress 1:metadata 2:spec 3:status
networking.IngressSpec 1:defaultBackend 2:tls 3:rules 4:ingressClassName?
networking.IngressBackend 3:resource 4:service
networking.IngressServiceBackend 1:name 2:port
networking.ServiceBackendPort 1:name 2:number
networking.IngressTLS 1:hosts 2:secretName
networking.IngressRule 1:host 2:*networking.IngressRuleValue
networking.IngressRuleValue 1:http
networking.HTTPIngressRuleValue 1:paths
networking.HTTPIngressPath 1:path 2:backend 3:pathType?
networking.IngressStatus 1:loadBalancer
networking.IngressLoadBalancerStatus 1:ingress
networking.IngressLoadBalancerIngress 1:ip 2:hostname 4:ports
networking.IngressPortStatus 1:port 2:protocol 3:error?

autoscaling.HorizontalPodAutoscaler 1:metadata 2:spec 3:status
autoscaling.HorizontalPodAutoscalerSpec 1:scaleTargetRef 2:minReplicas? 3:maxReplicas 4:targetCPUUtilizationPercentage?
autoscaling.CrossVersionObjectReference 1:kind 2:name 3:apiVersion
autoscaling.HorizontalPodAutoscalerStatus 1:observedGeneration? 2:lastScaleTime 3:currentReplicas 4:desiredReplicas 5:currentCPUUtilizationPercentage?
";

const PREFIXES: &[(&str, &str)] = &[
    ("meta.", "io.k8s.apimachinery.pkg.apis.meta.v1."),
    ("core.", "io.k8s.api.core.v1."),
    ("apps.", "io.k8s.api.apps.v1."),
    ("batch.", "io.k8s.api.batch.v1."),
    ("rbac.", "io.k8s.api.rbac.v1."),
    ("scheduling.", "io.k8s.api.scheduling.v1."),
    ("policy.", "io.k8s.api.policy.v1."),
    ("networking.", "io.k8s.api.networking.v1."),
    ("autoscaling.", "io.k8s.api.autoscaling.v1."),
];

fn full_name(short: &str) -> String {
    PREFIXES.iter().find_map(|(p, full)| short.strip_prefix(p).map(|rest| format!("{full}{rest}"))).unwrap_or_else(|| short.to_string())
}

#[derive(Debug)]
struct FieldDef {
    name: String,
    pointer: bool,
    /// The full message name of a Go struct embedded inline.
    inline: Option<String>,
}

type Messages = HashMap<String, HashMap<u32, FieldDef>>;

fn messages() -> &'static Messages {
    static TABLE: OnceLock<Messages> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut out = HashMap::new();
        for line in FIELDS.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let mut words = line.split_whitespace();
            let Some(name) = words.next() else { continue };
            let mut fields = HashMap::new();
            for w in words {
                let Some((n, rest)) = w.split_once(':') else { continue };
                let Ok(n) = n.parse::<u32>() else { continue };
                let def = match rest.strip_prefix('*') {
                    Some(m) => FieldDef { name: String::new(), pointer: false, inline: Some(full_name(m)) },
                    None => FieldDef { name: rest.trim_end_matches('?').to_string(), pointer: rest.ends_with('?'), inline: None },
                };
                fields.insert(n, def);
            }
            out.insert(full_name(name), fields);
        }
        out
    })
}

/// One field as it came off the wire.
#[derive(Clone, Copy)]
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
}

fn wire_fields(mut buf: &[u8]) -> Result<Vec<(u32, Wire<'_>)>, String> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (number, wire_type) = decode_key(&mut buf).map_err(|e| e.to_string())?;
        let value = match wire_type {
            WireType::Varint => Wire::Varint(decode_varint(&mut buf).map_err(|e| e.to_string())?),
            WireType::SixtyFourBit => {
                let (b, rest) = buf.split_first_chunk::<8>().ok_or("truncated fixed64")?;
                buf = rest;
                Wire::Fixed64(u64::from_le_bytes(*b))
            }
            WireType::ThirtyTwoBit => {
                let (b, rest) = buf.split_first_chunk::<4>().ok_or("truncated fixed32")?;
                buf = rest;
                Wire::Fixed32(u32::from_le_bytes(*b))
            }
            WireType::LengthDelimited => {
                let len = usize::try_from(decode_varint(&mut buf).map_err(|e| e.to_string())?).map_err(|_| "length overflow")?;
                if len > buf.len() {
                    return Err("truncated length-delimited field".into());
                }
                let (b, rest) = buf.split_at(len);
                buf = rest;
                Wire::Bytes(b)
            }
            WireType::StartGroup | WireType::EndGroup => return Err("groups are not used by Kubernetes messages".into()),
        };
        out.push((number, value));
    }
    Ok(out)
}

/// An OpenAPI document of one group version and the schema node being decoded against.
#[derive(Clone, Copy)]
struct Ctx {
    doc: &'static Value,
    depth: usize,
}

impl Ctx {
    fn schema(&self, name: &str) -> Option<&'static Value> {
        self.doc.pointer("/components/schemas")?.get(name)
    }

    /// `(referenced schema name, resolved node)` of a property node (`$ref` or `allOf: [{$ref}]`).
    fn deref(&self, node: &'static Value) -> (Option<&'static str>, &'static Value) {
        let r = node
            .get("$ref")
            .or_else(|| node.get("allOf").and_then(Value::as_array).and_then(|a| a.first()).and_then(|f| f.get("$ref")))
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"));
        match r.and_then(|name| Some((name, self.schema(name)?))) {
            Some((name, n)) => (Some(name), n),
            None => (None, node),
        }
    }

    fn deeper(self) -> Result<Ctx, String> {
        if self.depth > 48 {
            return Err("message nesting too deep".into());
        }
        Ok(Ctx { depth: self.depth + 1, ..self })
    }
}

fn utf8(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|_| "invalid UTF-8 in a string field".to_string())
}

fn bytes_of<'a>(w: Wire<'a>, what: &str) -> Result<&'a [u8], String> {
    match w {
        Wire::Bytes(b) => Ok(b),
        _ => Err(format!("{what}: expected a length-delimited field")),
    }
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Bool(b) => !b,
        _ => false,
    }
}

/// RFC 3339 in UTC; `micros` adds six fractional digits (MicroTime).
fn rfc3339(seconds: i64, nanos: i64, micros: bool) -> String {
    let days = seconds.div_euclid(86400);
    let secs = seconds.rem_euclid(86400);
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
    if micros {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{:06}Z", nanos / 1000)
    } else {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
    }
}

fn time(b: &[u8], micros: bool) -> Result<Option<Value>, String> {
    let (mut seconds, mut nanos, mut any) = (0i64, 0i64, false);
    for (n, w) in wire_fields(b)? {
        match (n, w) {
            (1, Wire::Varint(v)) => (seconds, any) = (v as i64, true),
            (2, Wire::Varint(v)) => (nanos, any) = (v as i64, true),
            _ => return Err(format!("Time: unexpected field {n}")),
        }
    }
    // an empty Time message is Go's zero time, which marshals as JSON null
    Ok(any.then(|| Value::String(rfc3339(seconds, nanos, micros))))
}

fn int_or_string(b: &[u8]) -> Result<Value, String> {
    let (mut ty, mut int, mut s) = (0u64, 0i64, String::new());
    for (n, w) in wire_fields(b)? {
        match (n, w) {
            (1, Wire::Varint(v)) => ty = v,
            (2, Wire::Varint(v)) => int = i64::from(v as i32),
            (3, Wire::Bytes(v)) => s = utf8(v)?,
            _ => return Err(format!("IntOrString: unexpected field {n}")),
        }
    }
    Ok(if ty == 1 { Value::String(s) } else { Value::from(int) })
}

/// A message whose field 1 holds the value (Quantity's string, RawExtension's and FieldsV1's JSON).
fn field_one<'a>(b: &'a [u8], what: &str) -> Result<Option<&'a [u8]>, String> {
    let mut out = None;
    for (n, w) in wire_fields(b)? {
        match (n, w) {
            (1, Wire::Bytes(v)) => out = Some(v),
            _ => return Err(format!("{what}: unexpected field {n}")),
        }
    }
    Ok(out)
}

fn raw_json(b: &[u8], what: &str) -> Result<Option<Value>, String> {
    match field_one(b, what)? {
        None | Some([]) => Ok(None),
        Some(raw) => serde_json::from_slice(raw).map(Some).map_err(|e| format!("{what}: not JSON: {e}")),
    }
}

/// Converts one wire value against its schema node. `None`: Go's zero value that JSON would write as null.
fn value(ctx: Ctx, node: &'static Value, w: Wire<'_>) -> Result<Option<Value>, String> {
    let (ref_name, node) = ctx.deref(node);
    match ref_name {
        Some("io.k8s.apimachinery.pkg.apis.meta.v1.Time") => return time(bytes_of(w, "Time")?, false),
        Some("io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime") => return time(bytes_of(w, "MicroTime")?, true),
        Some("io.k8s.apimachinery.pkg.util.intstr.IntOrString") => return int_or_string(bytes_of(w, "IntOrString")?).map(Some),
        Some("io.k8s.apimachinery.pkg.api.resource.Quantity") => {
            return Ok(Some(Value::String(utf8(field_one(bytes_of(w, "Quantity")?, "Quantity")?.unwrap_or_default())?)));
        }
        Some("io.k8s.apimachinery.pkg.runtime.RawExtension") => return raw_json(bytes_of(w, "RawExtension")?, "RawExtension"),
        Some("io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1") => return raw_json(bytes_of(w, "FieldsV1")?, "FieldsV1"),
        _ => {}
    }
    let ty = node.get("type").and_then(Value::as_str).unwrap_or("");
    if let Some(name) = ref_name.filter(|_| ty == "object" || node.get("properties").is_some()) {
        let mut m = Map::new();
        decode_message(ctx.deeper()?, name, node, bytes_of(w, name)?, &mut m)?;
        return Ok(Some(Value::Object(m)));
    }
    Ok(Some(match (ty, w) {
        ("string", Wire::Bytes(b)) if node.get("format").and_then(Value::as_str) == Some("byte") => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        ("string", Wire::Bytes(b)) => Value::String(utf8(b)?),
        ("integer", Wire::Varint(v)) => {
            Value::from(if node.get("format").and_then(Value::as_str) == Some("int32") { i64::from(v as i32) } else { v as i64 })
        }
        ("boolean", Wire::Varint(v)) => Value::Bool(v != 0),
        ("number", Wire::Fixed64(v)) => serde_json::Number::from_f64(f64::from_bits(v)).map(Value::Number).unwrap_or(Value::Null),
        ("number", Wire::Fixed32(v)) => {
            serde_json::Number::from_f64(f64::from(f32::from_bits(v))).map(Value::Number).unwrap_or(Value::Null)
        }
        _ => return Err(format!("a {ty:?} field cannot come as this wire type")),
    }))
}

/// The zero value of a map entry whose value field was absent.
fn zero_of(ctx: Ctx, node: &'static Value) -> Value {
    let (_, node) = ctx.deref(node);
    match node.get("type").and_then(Value::as_str) {
        Some("integer") | Some("number") => Value::from(0),
        Some("boolean") => Value::Bool(false),
        Some("object") => Value::Object(Map::new()),
        Some("array") => Value::Array(Vec::new()),
        _ => Value::String(String::new()),
    }
}

fn decode_message(ctx: Ctx, name: &str, schema: &'static Value, b: &[u8], out: &mut Map<String, Value>) -> Result<(), String> {
    let fields = wire_fields(b).map_err(|e| format!("{name}: {e}"))?;
    if fields.is_empty() {
        return Ok(());
    }
    let defs = messages().get(name).ok_or_else(|| format!("message {name} is not known to this emulator"))?;
    for (n, w) in fields {
        let def = defs.get(&n).ok_or_else(|| format!("field {n} of {name} is not known to this emulator"))?;
        if let Some(inline) = &def.inline {
            // an embedded struct: its fields are properties of this same JSON object
            decode_message(ctx.deeper()?, inline, schema, bytes_of(w, inline)?, out)?;
            continue;
        }
        let prop = schema
            .get("properties")
            .and_then(|p| p.get(&def.name))
            .ok_or_else(|| format!("{name}.{} is not in the served OpenAPI schema", def.name))?;
        let (_, resolved) = ctx.deref(prop);
        match resolved.get("type").and_then(Value::as_str) {
            Some("array") => {
                let items = resolved.get("items").ok_or_else(|| format!("{name}.{}: array without items", def.name))?;
                let list = out.entry(def.name.clone()).or_insert_with(|| Value::Array(Vec::new()));
                let Value::Array(list) = list else { return Err(format!("{name}.{}: repeated twice", def.name)) };
                let item_ty = ctx.deref(items).1.get("type").and_then(Value::as_str);
                match (w, item_ty) {
                    // packed repeated scalars
                    (Wire::Bytes(mut b), Some("integer") | Some("boolean")) => {
                        while !b.is_empty() {
                            let v = decode_varint(&mut b).map_err(|e| e.to_string())?;
                            list.extend(value(ctx, items, Wire::Varint(v))?);
                        }
                    }
                    _ => list.extend(Some(value(ctx, items, w)?.unwrap_or(Value::Null))),
                }
            }
            Some("object")
                if resolved.get("properties").is_none() && resolved.get("additionalProperties").is_some_and(Value::is_object) =>
            {
                let vnode = &resolved["additionalProperties"];
                let (mut key, mut val) = (String::new(), None);
                for (en, ew) in wire_fields(bytes_of(w, &def.name)?)? {
                    match en {
                        1 => key = utf8(bytes_of(ew, "map key")?)?,
                        2 => {
                            let (_, vres) = ctx.deref(vnode);
                            val = if vres.get("type").and_then(Value::as_str) == Some("array") {
                                // map<string, list>: the list is wrapped in a message {items = 1}
                                let mut wrapper = Vec::new();
                                for (_, iw) in wire_fields(bytes_of(ew, "map value")?)? {
                                    wrapper.extend(value(ctx, &vres["items"], iw)?);
                                }
                                Some(Value::Array(wrapper))
                            } else {
                                value(ctx, vnode, ew)?
                            };
                        }
                        _ => return Err(format!("{name}.{}: unexpected map entry field {en}", def.name)),
                    }
                }
                let map = out.entry(def.name.clone()).or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(map) = map {
                    map.insert(key, val.unwrap_or_else(|| zero_of(ctx, vnode)));
                }
            }
            _ => {
                let Some(v) = value(ctx, prop, w)? else { continue };
                if ctx.deref(prop).0.is_some() {
                    // a struct (IntOrString, Quantity, a message): Go's encoder never omits it
                    out.insert(def.name.clone(), v);
                    continue;
                }
                let default_is_zero = resolved.get("default").or_else(|| prop.get("default")).is_some_and(is_zero);
                if is_zero(&v) && !def.pointer && !default_is_zero {
                    out.shift_remove(&def.name);
                    continue;
                }
                out.insert(def.name.clone(), v);
            }
        }
    }
    Ok(())
}

/// Decodes the `raw` bytes of a `runtime.Unknown` envelope holding an object of `api_version`/`kind`.
/// `None`: this kind is not in [`FIELDS`].
pub(crate) fn decode_object(api_version: &str, kind: &str, raw: &[u8]) -> Option<Result<Map<String, Value>, String>> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let doc = crate::schema::openapi_doc(group, version)?;
    let schemas = doc.pointer("/components/schemas")?.as_object()?;
    let (name, node) = schemas.iter().find(|(name, node)| {
        messages().contains_key(name.as_str())
            && node.get("x-kubernetes-group-version-kind").and_then(Value::as_array).is_some_and(|a| {
                a.iter().any(|g| {
                    g.get("group").and_then(Value::as_str) == Some(group)
                        && g.get("version").and_then(Value::as_str) == Some(version)
                        && g.get("kind").and_then(Value::as_str) == Some(kind)
                })
            })
    })?;
    let mut out = Map::new();
    Some(decode_message(Ctx { doc, depth: 0 }, name, node, raw, &mut out).map(|()| out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_of_the_table_is_in_the_served_schemas() {
        // a typo in FIELDS would only show when that field arrives; check them all against OpenAPI
        let docs: Vec<&Value> = [
            ("", "v1"),
            ("apps", "v1"),
            ("batch", "v1"),
            ("rbac.authorization.k8s.io", "v1"),
            ("scheduling.k8s.io", "v1"),
            ("policy", "v1"),
            ("networking.k8s.io", "v1"),
            ("autoscaling", "v1"),
        ]
        .iter()
        .filter_map(|(g, v)| crate::schema::openapi_doc(g, v))
        .collect();
        assert_eq!(docs.len(), 8);
        let inlined: Vec<&String> = messages().values().flat_map(|f| f.values().filter_map(|d| d.inline.as_ref())).collect();
        fn check(name: &str, fields: &HashMap<u32, FieldDef>, schema: &Value) {
            for def in fields.values() {
                match &def.inline {
                    Some(inline) => check(inline, &messages()[inline], schema),
                    None => assert!(schema.pointer(&format!("/properties/{}", def.name)).is_some(), "{name}.{}", def.name),
                }
            }
        }
        for (name, fields) in messages().iter().filter(|(n, _)| !inlined.contains(n)) {
            let schema = docs
                .iter()
                .find_map(|d| d.pointer("/components/schemas")?.get(name))
                .unwrap_or_else(|| panic!("{name} is in no served schema"));
            check(name, fields, schema);
        }
    }

    #[test]
    fn times_format_like_go() {
        assert_eq!(rfc3339(0, 0, false), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_289_568, 123_456_789, true), "2026-12-03T09:19:28.123456Z");
    }
}
