SELECT
  *
FROM (
  SELECT
    `t14`.`id`,
    `t14`.`dep_service` AS `service`,
    `t14`.`deployed`,
    COALESCE(`t14`.`first_commit_at`, `t14`.`opened_at`, `t14`.`merged_at`) AS `lead_start`,
    `t14`.`first_commit_at`,
    `t14`.`opened_at`,
    `t14`.`first_review_at` AS `reviewed`,
    `t14`.`approved_at`,
    `t14`.`merged_at`,
    `t10`.`cg_requested`,
    `t10`.`cg_decided`,
    `t11`.`dg_requested`,
    `t11`.`dg_decided`
  FROM (
    SELECT
      *
    FROM (
      SELECT
        `t3`.`id`,
        `t3`.`source`,
        `t3`.`source_id`,
        `t3`.`service`,
        `t3`.`repository`,
        `t3`.`author`,
        `t3`.`number`,
        `t3`.`title`,
        `t3`.`labels`,
        `t3`.`first_commit_at`,
        `t3`.`opened_at`,
        `t3`.`first_review_at`,
        `t3`.`approved_at`,
        `t3`.`merged_at`,
        `t3`.`merge_sha`,
        `t3`.`additions`,
        `t3`.`deletions`,
        `t3`.`files`,
        `t3`.`is_revert`,
        `t3`.`reverts`,
        `t3`.`deployment_ref`,
        `t3`.`deployment_id`,
        `t3`.`closed_at`,
        `t7`.`dep_id`,
        `t7`.`deployed`,
        `t7`.`dep_service`
      FROM `headway_changes` AS `t3`
      INNER JOIN (
        SELECT
          `t2`.`id` AS `dep_id`,
          `t2`.`finished_at` AS `deployed`,
          `t2`.`service` AS `dep_service`
        FROM `headway_deployments` AS `t2`
        WHERE
          `t2`.`status` IN ('success')
          AND `t2`.`kind` IN ('deploy', 'hotfix', 'rollback', 'release')
          AND `t2`.`environment` IN ('production')
      ) AS `t7`
        ON `t3`.`deployment_id` = `t7`.`dep_id`
    ) AS `t12`
    WHERE
      `t12`.`deployed` >= CAST('2026-09-02T00:00:00' AS TIMESTAMP)
      AND `t12`.`deployed` < CAST('2026-11-01T00:00:00' AS TIMESTAMP)
      AND `t12`.`dep_service` IN ('notifications', 'payments-ledger', 'search', 'storefront')
  ) AS `t14`
  LEFT OUTER JOIN (
    SELECT
      `t4`.`change_ref` AS `cg_ref`,
      MIN(`t4`.`requested_at`) AS `cg_requested`,
      MAX(`t4`.`decided_at`) AS `cg_decided`
    FROM (
      SELECT
        *
      FROM `headway_approvals` AS `t1`
      WHERE
        `t1`.`kind` IN ('change_advisory', 'security', 'deployment_gate')
        AND `t1`.`change_ref` IS NOT NULL
    ) AS `t4`
    GROUP BY
      1
  ) AS `t10`
    ON `t14`.`id` = `t10`.`cg_ref`
  LEFT OUTER JOIN (
    SELECT
      `t5`.`deployment_ref` AS `dg_ref`,
      MIN(`t5`.`requested_at`) AS `dg_requested`,
      MAX(`t5`.`decided_at`) AS `dg_decided`
    FROM (
      SELECT
        *
      FROM `headway_approvals` AS `t1`
      WHERE
        `t1`.`kind` IN ('change_advisory', 'security', 'deployment_gate')
        AND `t1`.`deployment_ref` IS NOT NULL
    ) AS `t5`
    GROUP BY
      1
  ) AS `t11`
    ON `t14`.`dep_id` = `t11`.`dg_ref`
) AS `t15`
ORDER BY
  `t15`.`deployed` ASC NULLS LAST,
  `t15`.`id` ASC NULLS LAST
